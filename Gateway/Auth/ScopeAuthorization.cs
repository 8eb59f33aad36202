using Microsoft.AspNetCore.Authorization;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// One authorization policy per scope (routes name the scope they need): an authenticated caller
/// whose key has that scope, or <see cref="Scopes.Admin"/>. The requirement is its own handler and
/// the policies are built once; for the gateway's own callers (<see cref="ScopedPrincipal"/>) the
/// check is one set lookup, for any other principal a walk over its claims.
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
        if (context.User is ScopedPrincipal caller)
        {
            if (caller.Allowed.Contains(requirement.Scope))
            {
                context.Succeed(requirement);
            }

            return Task.CompletedTask;
        }

        foreach (var claim in context.User.Claims)
        {
            if (claim.Type == Scopes.ClaimType && (claim.Value == requirement.Scope || claim.Value == Scopes.Admin))
            {
                context.Succeed(requirement);
                break;
            }
        }

        return Task.CompletedTask;
    }
}
