using Microsoft.AspNetCore.Authorization;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// One authorization policy per scope, the names routes give as their <c>AuthorizationPolicy</c>:
/// an authenticated caller whose key grants that scope (admin grants all). The gateway checks
/// scopes itself (<see cref="ApiKeyAccess"/>); the policies are registered so that YARP refuses a
/// route naming a scope that does not exist when it loads its configuration, and so that anything
/// evaluating them through ASP.NET Core decides as the gateway does.
/// </summary>
internal sealed class ScopeRequirement(string scope) : AuthorizationHandler<ScopeRequirement>, IAuthorizationRequirement
{
    public string Scope { get; } = scope;

    public static void AddPolicies(AuthorizationOptions options)
    {
        foreach (var scope in Scopes.All)
        {
            options.AddPolicy(scope, policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scope)));
        }
    }

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.User is ScopedPrincipal caller && caller.Allowed.Contains(requirement.Scope))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
