using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using MsSwift.Gateway.RateLimiting;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// Authenticates callers by API key (<c>Authorization: Bearer &lt;key&gt;</c>, as OpenAI clients
/// send it, or <c>x-api-key</c>). No key or an unknown key: 401; a key without the route's scope: 403.
/// An address that presented too many unknown keys gets 429 for any key until its
/// <see cref="InvalidKeyThrottle"/> bucket refills.
/// </summary>
/// <remarks>
/// A plain <see cref="IAuthenticationHandler"/> rather than <c>AuthenticationHandler&lt;T&gt;</c>: that
/// base resolves its options, creates a logger and builds a result for every request, which the
/// gateway's profile showed on each forwarded call. Here a valid key costs one hash and one lookup,
/// and its cached result (<see cref="ApiKeyRing.Caller"/>). One instance serves one request.
/// </remarks>
internal sealed partial class ApiKeyAuthenticationHandler(ApiKeyRing keys, InvalidKeyThrottle throttle, ILogger<ApiKeyAuthenticationHandler> logger) : IAuthenticationHandler
{
    public const string SchemeName = "ApiKey";
    public const string ApiKeyHeader = "x-api-key";
    public const string CallerNameClaim = "msswift.caller";

    private static readonly Task<AuthenticateResult> NoKey = Task.FromResult(AuthenticateResult.NoResult());
    private static readonly Task<AuthenticateResult> Throttled = Task.FromResult(AuthenticateResult.Fail("too many invalid API keys from this address"));
    private static readonly Task<AuthenticateResult> Unknown = Task.FromResult(AuthenticateResult.Fail("unknown API key"));

    private HttpContext _context = null!;
    private TimeSpan? _throttledFor;

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        _context = context;
        return Task.CompletedTask;
    }

    public Task<AuthenticateResult> AuthenticateAsync()
    {
        if (!TryGetPresented(_context.Request, out var presented))
        {
            return NoKey;
        }

        var address = _context.Connection.RemoteIpAddress;
        if (throttle.RetryAfter(address) is { } wait)
        {
            _throttledFor = wait;
            LogNotAuthenticated(logger, "too many invalid API keys from this address");
            return Throttled;
        }

        if (keys.Find(presented.Span) is not { } caller)
        {
            throttle.Spend(address);
            LogNotAuthenticated(logger, "unknown API key");
            return Unknown;
        }

        return caller.Authenticated;
    }

    public Task ChallengeAsync(AuthenticationProperties? properties)
    {
        if (_throttledFor is { } wait)
        {
            return GatewayRejection.WriteAsync(_context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, "Too many invalid keys",
                $"this address presented too many API keys that are not valid; retry after {Math.Ceiling(wait.TotalSeconds)} s", wait);
        }

        GatewayRejection.AddWwwAuthenticate(_context);
        var detail = TryGetPresented(_context.Request, out _)
            ? "the API key is not valid"
            : "an API key is required: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'";
        return GatewayRejection.WriteAsync(_context, StatusCodes.Status401Unauthorized, StatusCode.Unauthenticated, "Unauthenticated", detail);
    }

    public Task ForbidAsync(AuthenticationProperties? properties)
    {
        var needed = _context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>()?.Policy ?? "another scope";
        LogForbidden(logger, _context.User.Identity?.Name, needed);
        return GatewayRejection.WriteAsync(_context, StatusCodes.Status403Forbidden, StatusCode.PermissionDenied, "Forbidden",
            $"API key '{_context.User.Identity?.Name}' lacks the '{needed}' scope this operation needs");
    }

    /// <summary>The key the request presents, trimmed, as a slice of its header (no copy); false when it presents none.</summary>
    private static bool TryGetPresented(HttpRequest request, out ReadOnlyMemory<char> presented)
    {
        const string bearer = "Bearer ";
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization.AsMemory(bearer.Length).Trim();
            return true;
        }

        var apiKey = request.Headers[ApiKeyHeader].ToString();
        presented = apiKey.AsMemory();
        return apiKey.Length > 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ApiKey was not authenticated: {Reason}")]
    private static partial void LogNotAuthenticated(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "API key {Caller} was forbidden: the route needs scope {Scope}")]
    private static partial void LogForbidden(ILogger logger, string? caller, string scope);
}
