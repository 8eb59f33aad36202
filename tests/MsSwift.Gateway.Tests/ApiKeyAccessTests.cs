using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MsSwift.Gateway.Auth;
using MsSwift.Gateway.RateLimiting;
using MsSwift.Gateway.Telemetry;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// The gateway's own key and scope check, on a request in memory: which routes it guards, what each
/// key may reach, and that a refused request never reaches the rest of the pipeline. The whole-app
/// tests (<see cref="FrontDoorTests"/>, <see cref="HostileInputTests"/>) run it behind real sockets.
/// </summary>
public sealed class ApiKeyAccessTests : IDisposable
{
    private static readonly ApiKeyOptions Inference = new() { Name = "inference-key", Key = "inference-key-0123456789", Scopes = [Scopes.Inference] };
    private static readonly ApiKeyOptions Reader = new() { Name = "reader-key", Key = "reader-key-0123456789ab", Scopes = [Scopes.RegistryRead] };
    private static readonly ApiKeyOptions Both = new() { Name = "both-key", Key = "both-key-0123456789abcd", Scopes = [Scopes.Inference, Scopes.Training] };
    private static readonly ApiKeyOptions Admin = new() { Name = "admin-key", Key = "admin-key-0123456789abc", Scopes = [Scopes.Admin] };
    private static readonly ApiKeyOptions Slow = new() { Name = "slow-key", Key = "slow-key-0123456789abcd", Scopes = [Scopes.Inference], RequestsPerSecond = 0.01, Burst = 2 };

    private readonly ServiceProvider _services;
    private readonly ApiKeyRing _keys;
    private readonly InvalidKeyThrottle _throttle;
    private readonly ApiKeyAccess _access;
    private HttpContext? _reached;

    public ApiKeyAccessTests()
    {
        var options = Options.Create(new GatewayOptions { ApiKeys = [Inference, Reader, Both, Admin, Slow], InvalidKeyLimit = new() { PerSecond = 0.01, Burst = 2 } });
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddProblemDetails();
        services.AddSingleton<GatewayMetrics>();
        _services = services.BuildServiceProvider();
        _throttle = new InvalidKeyThrottle(options);
        _keys = new ApiKeyRing(options);
        _access = new ApiKeyAccess(context =>
        {
            _reached = context;
            return Task.CompletedTask;
        }, _keys, _throttle, NullLogger<ApiKeyAccess>.Instance);
    }

    [Fact]
    public async Task A_route_without_a_policy_is_open_and_one_that_allows_anonymous_callers_too()
    {
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(key: null));
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(key: null, new AuthorizeAttribute(Scopes.Admin), new AllowAnonymousAttribute()));
    }

    [Fact]
    public async Task A_guarded_route_without_a_key_is_refused_with_401_and_a_bearer_challenge()
    {
        var context = NewContext(key: null, new AuthorizeAttribute(Scopes.Inference));
        await _access.InvokeAsync(context);

        Assert.Equal(StatusCodes.Status401Unauthorized, context.Response.StatusCode);
        Assert.Equal("Bearer", context.Response.Headers.WWWAuthenticate.ToString());
        Assert.Null(_reached);
        Assert.Equal(StatusCodes.Status401Unauthorized, await CallAsync("Bearer   ", new AuthorizeAttribute(Scopes.Inference)));
    }

    [Fact]
    public async Task A_key_reaches_the_routes_of_its_scopes_as_its_caller_and_no_others()
    {
        var context = NewContext($"Bearer {Inference.Key}", new AuthorizeAttribute(Scopes.Inference));
        await _access.InvokeAsync(context);
        Assert.Same(context, _reached);
        Assert.Equal(Inference.Name, context.User.Identity?.Name);

        Assert.Equal(StatusCodes.Status403Forbidden, await CallAsync($"Bearer {Inference.Key}", new AuthorizeAttribute(Scopes.Training)));
        Assert.Equal(StatusCodes.Status403Forbidden, await CallAsync(Reader.Key, new AuthorizeAttribute(Scopes.Inference)));
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Reader.Key, new AuthorizeAttribute(Scopes.RegistryRead)));
    }

    [Fact]
    public async Task Admin_reaches_every_scope_and_a_policy_without_a_name_asks_only_for_a_valid_key()
    {
        foreach (var scope in Scopes.All)
        {
            Assert.Equal(StatusCodes.Status200OK, await CallAsync(Admin.Key, new AuthorizeAttribute(scope)));
        }

        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Reader.Key, new AuthorizeAttribute()));
        Assert.Equal(StatusCodes.Status401Unauthorized, await CallAsync(key: null, new AuthorizeAttribute()));
    }

    [Fact]
    public async Task Scope_names_ignore_case_as_policy_names_do_and_unknown_kinds_of_authorization_are_refused()
    {
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Inference.Key, new AuthorizeAttribute("Inference")));

        var policy = new AuthorizationPolicyBuilder().RequireClaim("anything").Build();
        Assert.Equal(StatusCodes.Status403Forbidden, await CallAsync(Admin.Key, new AuthorizeAttribute(), policy));
    }

    [Fact]
    public async Task Every_policy_an_endpoint_names_must_be_granted()
    {
        AuthorizeAttribute[] both = [new(Scopes.Inference), new(Scopes.Training)];
        Assert.Equal(StatusCodes.Status403Forbidden, await CallAsync(Inference.Key, both));
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Both.Key, both));
    }

    [Fact]
    public async Task Unknown_keys_are_refused_and_past_the_address_budget_even_a_valid_key_gets_429()
    {
        var guarded = new AuthorizeAttribute(Scopes.Inference);
        Assert.Equal(StatusCodes.Status401Unauthorized, await CallAsync("Bearer not-a-key-0123456789", guarded));
        Assert.Equal(StatusCodes.Status401Unauthorized, await CallAsync("not-a-key-0123456789", guarded));

        var context = NewContext(Inference.Key, guarded);
        await _access.InvokeAsync(context);
        Assert.Equal(StatusCodes.Status429TooManyRequests, context.Response.StatusCode);
        Assert.True(context.Response.Headers.RetryAfter.Count == 1);
        Assert.Null(_reached);
    }

    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_retry_after_and_other_keys_and_open_routes_are_not_held_back()
    {
        var guarded = new AuthorizeAttribute(Scopes.Inference);
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Slow.Key, guarded));
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Slow.Key, guarded));

        _reached = null;
        var context = NewContext(Slow.Key, guarded);
        await _access.InvokeAsync(context);

        Assert.Equal(StatusCodes.Status429TooManyRequests, context.Response.StatusCode);
        Assert.True(int.Parse(context.Response.Headers.RetryAfter.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Null(_reached);
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Inference.Key, guarded));
        Assert.Equal(StatusCodes.Status200OK, await CallAsync(Slow.Key));
    }

    public void Dispose()
    {
        _throttle.Dispose();
        _keys.Dispose();
        _services.Dispose();
    }

    /// <summary>The status the request ends with: 200 when it reached the next middleware.</summary>
    private async Task<int> CallAsync(string? key, params object[] metadata)
    {
        _reached = null;
        var context = NewContext(key, metadata);
        await _access.InvokeAsync(context);
        Assert.Equal(context.Response.StatusCode == StatusCodes.Status200OK, _reached is not null);
        return context.Response.StatusCode;
    }

    /// <summary>A request with <paramref name="key"/> as its Authorization header (or, without "Bearer", its x-api-key), matched to an endpoint with <paramref name="metadata"/>.</summary>
    private DefaultHttpContext NewContext(string? key, params object[] metadata)
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        context.Response.Body = new MemoryStream();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Loopback;
        if (key is not null)
        {
            context.Request.Headers[key.StartsWith("Bearer", StringComparison.Ordinal) ? "Authorization" : ApiKeyAccess.ApiKeyHeader] = key;
        }

        context.SetEndpoint(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(metadata), "route"));
        return context;
    }
}
