using System.Threading.RateLimiting;
using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using MsSwift.Gateway.RateLimiting;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// The gateway's access check and per-key rate limit, in one synchronous step. A route that names a
/// scope (its authorization policy, <see cref="IAuthorizeData.Policy"/>) needs an API key that
/// grants it (<c>Authorization: Bearer &lt;key&gt;</c>, as OpenAI clients send it, or
/// <c>x-api-key</c>). No key or an unknown key: 401; a key without the scope: 403; an address that
/// presented too many unknown keys: 429 for any key until its <see cref="InvalidKeyThrottle"/>
/// bucket refills; a key over its rate (<see cref="ApiKeyOptions.RequestsPerSecond"/>, per gateway
/// replica): 429 with <c>Retry-After</c>. The caller becomes the request's user
/// (<see cref="ScopedPrincipal"/>), which the caller header and the logs read. Routes without a
/// policy (health) are open and not limited.
/// </summary>
/// <remarks>
/// In place of ASP.NET Core's authentication, authorization and rate-limiting middleware, which the
/// gateway's profile showed on every forwarded call (their async state machines, the authentication
/// service, the handler provider and context, their metrics): here a valid key within its rate
/// costs one hash, one lookup, one set lookup and one token, and allocates nothing. Refusals are counted by the gateway's own meter
/// (<c>msswift.gateway.rejections</c>). The policies stay registered (<see cref="ScopeRequirement"/>)
/// so that YARP refuses, when it loads its routes, one that names a scope that does not exist.
/// </remarks>
internal sealed partial class ApiKeyAccess(RequestDelegate next, ApiKeyRing keys, InvalidKeyThrottle throttle, ILogger<ApiKeyAccess> logger)
{
    public const string SchemeName = "ApiKey";
    public const string ApiKeyHeader = "x-api-key";
    public const string CallerNameClaim = "msswift.caller";

    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        var required = metadata?.GetOrderedMetadata<IAuthorizeData>();
        if (required is not { Count: > 0 } || metadata!.GetMetadata<IAllowAnonymous>() is not null)
        {
            return next(context);
        }

        if (metadata.GetMetadata<AuthorizationPolicy>() is not null || metadata.GetMetadata<IAuthorizationRequirementData>() is not null)
        {
            // A policy object or inline requirements (RequireAuthorization(policy => ...)) are not
            // scopes this check knows: refused, never let through on a valid key alone.
            LogUncheckable(logger, context.Request.Path);
            return GatewayRejection.WriteAsync(context, StatusCodes.Status403Forbidden, StatusCode.PermissionDenied, "Forbidden",
                "this operation's authorization is not one the gateway can check; its route must name a scope as its policy");
        }

        if (!TryGetPresented(context.Request, out var presented))
        {
            return Unauthenticated(context, "an API key is required: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'");
        }

        var address = context.Connection.RemoteIpAddress;
        if (throttle.RetryAfter(address) is { } wait)
        {
            LogNotAuthenticated(logger, "too many invalid API keys from this address");
            return GatewayRejection.WriteAsync(context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, "Too many invalid keys",
                $"this address presented too many API keys that are not valid; retry after {Math.Ceiling(wait.TotalSeconds)} s", wait);
        }

        if (keys.Find(presented.Span) is not { } caller)
        {
            throttle.Spend(address);
            LogNotAuthenticated(logger, "unknown API key");
            return Unauthenticated(context, "the API key is not valid");
        }

        context.User = caller.Principal;
        // Every policy the endpoint names must be granted; one without a name asks only for a valid key.
        for (var i = 0; i < required.Count; i++)
        {
            if (required[i].Policy is { } scope && !caller.Principal.Allowed.Contains(scope))
            {
                LogForbidden(logger, caller.Options.Name, scope);
                return GatewayRejection.WriteAsync(context, StatusCodes.Status403Forbidden, StatusCode.PermissionDenied, "Forbidden",
                    $"API key '{caller.Options.Name}' lacks the '{scope}' scope this operation needs");
            }
        }

        using var lease = caller.Limiter.AttemptAcquire();
        if (!lease.IsAcquired)
        {
            var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var refill) ? refill : TimeSpan.FromSeconds(1);
            return GatewayRejection.WriteAsync(context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, "Too many requests",
                $"API key '{caller.Options.Name}' is over its rate limit; retry after {Math.Ceiling(retryAfter.TotalSeconds)} s", retryAfter);
        }

        return next(context);
    }

    private static Task Unauthenticated(HttpContext context, string detail)
    {
        GatewayRejection.AddWwwAuthenticate(context);
        return GatewayRejection.WriteAsync(context, StatusCodes.Status401Unauthorized, StatusCode.Unauthenticated, "Unauthenticated", detail);
    }

    /// <summary>The key the request presents, trimmed, as a slice of its header (no copy); false when it presents none.</summary>
    private static bool TryGetPresented(HttpRequest request, out ReadOnlyMemory<char> presented)
    {
        const string bearer = "Bearer ";
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization.AsMemory(bearer.Length).Trim();
            return !presented.IsEmpty;
        }

        var apiKey = request.Headers[ApiKeyHeader].ToString();
        presented = apiKey.AsMemory();
        return apiKey.Length > 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ApiKey was not authenticated: {Reason}")]
    private static partial void LogNotAuthenticated(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Refused {Path}: its endpoint carries an authorization policy object or requirements, not a scope name, which the gateway cannot check")]
    private static partial void LogUncheckable(ILogger logger, PathString path);

    [LoggerMessage(Level = LogLevel.Information, Message = "API key {Caller} was forbidden: the route needs scope {Scope}")]
    private static partial void LogForbidden(ILogger logger, string? caller, string scope);
}

internal static class ApiKeyAccessExtensions
{
    /// <summary>Checks API keys, scopes and rate limits; after routing, since it reads the matched route's policy.</summary>
    public static IApplicationBuilder UseApiKeyAccess(this IApplicationBuilder app) => app.UseMiddleware<ApiKeyAccess>();
}
