using System.Security.Claims;
using System.Text.Encodings.Web;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using MsSwift.Gateway.RateLimiting;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// Authenticates callers by API key (<c>Authorization: Bearer &lt;key&gt;</c>, as OpenAI clients
/// send it, or <c>x-api-key</c>). No key or an unknown key: 401; a key without the route's scope: 403.
/// An address that presented too many unknown keys gets 429 for any key until its
/// <see cref="InvalidKeyThrottle"/> bucket refills.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRing keys, InvalidKeyThrottle throttle)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string ApiKeyHeader = "x-api-key";
    public const string CallerNameClaim = "msswift.caller";

    private TimeSpan? _throttledFor;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Presented(Request);
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var address = Context.Connection.RemoteIpAddress;
        if (throttle.RetryAfter(address) is { } wait)
        {
            _throttledFor = wait;
            return Task.FromResult(AuthenticateResult.Fail("too many invalid API keys from this address"));
        }

        if (keys.Find(presented) is not { } key)
        {
            throttle.Spend(address);
            return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
        }

        var claims = key.Scopes.Select(scope => new Claim(Scopes.ClaimType, scope)).Append(new Claim(CallerNameClaim, key.Name));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName, CallerNameClaim, null));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (_throttledFor is { } wait)
        {
            return GatewayRejection.WriteAsync(Context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, "Too many invalid keys",
                $"this address presented too many API keys that are not valid; retry after {Math.Ceiling(wait.TotalSeconds)} s", wait);
        }

        GatewayRejection.AddWwwAuthenticate(Context);
        var detail = Presented(Request) is null
            ? "an API key is required: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
            : "the API key is not valid";
        return GatewayRejection.WriteAsync(Context, StatusCodes.Status401Unauthorized, StatusCode.Unauthenticated, "Unauthenticated", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var needed = Context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>()?.Policy ?? "another scope";
        return GatewayRejection.WriteAsync(Context, StatusCodes.Status403Forbidden, StatusCode.PermissionDenied, "Forbidden",
            $"API key '{Context.User.Identity?.Name}' lacks the '{needed}' scope this operation needs");
    }

    private static string? Presented(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        var apiKey = request.Headers[ApiKeyHeader].ToString();
        return apiKey.Length > 0 ? apiKey : null;
    }
}
