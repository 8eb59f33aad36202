using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Testing;

namespace MsSwift.Gateway.Tests;

/// <summary>API keys, scopes, rate limits, size limits and request ids at the real gateway, over HTTP and gRPC.</summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class FrontDoorTests(GatewayCluster cluster)
{
    [Fact]
    public async Task Http_without_a_valid_key_gets_401_and_a_key_without_the_scope_gets_403()
    {
        using var anonymous = cluster.Http(null);
        using var wrong = cluster.Http(new("x", "not-a-key-0123456789", ["admin"]));
        using var user = cluster.Http(GatewayCluster.UserKey);
        using var admin = cluster.Http(GatewayCluster.AdminKey);

        var noKey = await anonymous.GetAsync("/v1/models");
        var badKey = await wrong.GetAsync("/v1/models");
        var allowed = await user.GetAsync("/v1/models");
        var registryRead = await user.GetAsync("/registry/models/tiny");
        var userPromote = await user.PostAsync("/registry/models/tiny/versions/v9/promote", null);
        var adminPromote = await admin.PostAsync("/registry/models/tiny/versions/v9/promote", null);
        var health = await anonymous.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal("application/problem+json", noKey.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", noKey.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, badKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, registryRead.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, userPromote.StatusCode);
        Assert.Contains("'admin' scope", (await userPromote.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        // The admin key passes the gateway; the registry itself answers (no version v9).
        Assert.Equal(HttpStatusCode.NotFound, adminPromote.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Grpc_without_a_key_is_unauthenticated_and_admin_calls_need_an_admin_key()
    {
        var registryAdmin = new ModelRegistryAdmin.ModelRegistryAdminClient(cluster.GrpcChannel);
        var change = new ChangeVersionRequest { Model = "tiny", Version = "v9" };

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => cluster.Models.PredictAsync(Request("hi"), GatewayCluster.Credentials(null)).ResponseAsync);
        var served = await cluster.Models.PredictAsync(Request("hi"), GatewayCluster.Credentials(GatewayCluster.UserKey));
        var userAdmin = await Assert.ThrowsAsync<RpcException>(() => registryAdmin.PromoteAsync(change, GatewayCluster.Credentials(GatewayCluster.UserKey)).ResponseAsync);
        var adminAdmin = await Assert.ThrowsAsync<RpcException>(() => registryAdmin.PromoteAsync(change, GatewayCluster.Credentials(GatewayCluster.AdminKey)).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        Assert.Equal("tiny", served.Model);
        Assert.Equal(StatusCode.PermissionDenied, userAdmin.StatusCode);
        Assert.Equal(StatusCode.NotFound, adminAdmin.StatusCode);
    }

    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_retry_after_over_http_and_resource_exhausted_over_grpc()
    {
        using var slow = cluster.Http(GatewayCluster.SlowKey);

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++)
        {
            answers.Add(await slow.GetAsync("/v1/models"));
        }

        // The bucket (1/s, burst 2) may have refilled a token while a loaded machine served the
        // HTTP calls: a few calls in a row must still find it empty.
        RpcException? grpc = null;
        for (var attempt = 0; attempt < 6 && grpc is null; attempt++)
        {
            try
            {
                await cluster.Models.PredictAsync(Request("hi"), GatewayCluster.Credentials(GatewayCluster.SlowKey)).ResponseAsync;
            }
            catch (RpcException error)
            {
                grpc = error;
            }
        }

        Assert.NotNull(grpc);

        Assert.Equal(HttpStatusCode.OK, answers[0].StatusCode);
        var limited = answers.First(answer => answer.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {limited.Headers.RetryAfter}");
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Equal(StatusCode.ResourceExhausted, grpc.StatusCode);
        // Other keys are not slowed by this one.
        using var user = cluster.Http(GatewayCluster.UserKey);
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task An_address_guessing_keys_gets_429_for_every_key_until_its_bucket_refills_and_other_addresses_are_not_slowed()
    {
        var guesser = IPAddress.Parse("127.0.0.2");
        using var guessing = cluster.Http(new("guess", "guessed-key-0123456789", ["admin"]), from: guesser);
        using var rightGuess = cluster.Http(GatewayCluster.UserKey, from: guesser);
        using var otherAddress = cluster.Http(GatewayCluster.UserKey);

        var guesses = new List<HttpResponseMessage>();
        for (var i = 0; i < GatewayCluster.InvalidKeyBurst + 2; i++)
        {
            guesses.Add(await guessing.GetAsync("/v1/models"));
        }

        var validKeyWhileThrottled = await rightGuess.GetAsync("/v1/models");
        var elsewhere = await otherAddress.GetAsync("/v1/models");
        var throttledFor = Stopwatch.StartNew();
        // Polling spends nothing: a 429 checks no key.
        var refilled = await Poll.UntilAsync(() => guessing.GetAsync("/v1/models"), answer => answer.StatusCode != HttpStatusCode.TooManyRequests,
            TimeSpan.FromSeconds(GatewayCluster.InvalidKeySeconds * 3), TimeSpan.FromMilliseconds(250));

        Assert.All(guesses.Take(GatewayCluster.InvalidKeyBurst), guess => Assert.Equal(HttpStatusCode.Unauthorized, guess.StatusCode));
        var limited = guesses[GatewayCluster.InvalidKeyBurst];
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.InRange(limited.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(GatewayCluster.InvalidKeySeconds));
        Assert.Equal(HttpStatusCode.TooManyRequests, guesses[^1].StatusCode);
        // A right guess is not confirmed while the address is throttled.
        Assert.Equal(HttpStatusCode.TooManyRequests, validKeyWhileThrottled.StatusCode);
        Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
        // A limit, not a ban: one more guess is checked once a token is back.
        Assert.Equal(HttpStatusCode.Unauthorized, refilled.StatusCode);
        Assert.True(throttledFor.Elapsed < TimeSpan.FromSeconds(GatewayCluster.InvalidKeySeconds * 3), $"still throttled after {throttledFor.Elapsed}");
    }

    [Fact]
    public async Task An_address_guessing_keys_over_grpc_gets_resource_exhausted()
    {
        using var channel = cluster.GrpcChannelFrom(IPAddress.Parse("127.0.0.3"));
        var models = new ModelService.ModelServiceClient(channel);
        var guess = GatewayCluster.Credentials(new("guess", "guessed-key-9876543210", ["inference"]));

        var answers = new List<StatusCode>();
        for (var i = 0; i < GatewayCluster.InvalidKeyBurst + 1; i++)
        {
            answers.Add((await Assert.ThrowsAsync<RpcException>(() => models.PredictAsync(Request("hi"), guess).ResponseAsync)).StatusCode);
        }

        Assert.All(answers.Take(GatewayCluster.InvalidKeyBurst), status => Assert.Equal(StatusCode.Unauthenticated, status));
        Assert.Equal(StatusCode.ResourceExhausted, answers[^1]);
    }

    [Fact]
    public async Task Metrics_are_served_only_on_the_management_port_and_health_stays_public()
    {
        using var anonymous = cluster.Http(null);
        using var management = new HttpClient { BaseAddress = cluster.Gateway.ManagementAddress };
        using var grpcPort = new HttpClient { BaseAddress = cluster.Gateway.GrpcAddress, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var spoofedHost = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        spoofedHost.Headers.Host = cluster.Gateway.ManagementAddress.Authority;
        // A refusal, so the gateway's own counter has a series to show.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/models")).StatusCode);

        var publicMetrics = await anonymous.GetAsync("/metrics");
        var spoofed = await anonymous.SendAsync(spoofedHost);
        var grpcPortMetrics = await grpcPort.GetAsync("/metrics");
        var scraped = await management.GetAsync("/metrics");
        var publicHealth = await anonymous.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.NotFound, publicMetrics.StatusCode);
        // The port the connection arrived on decides, not the Host header a caller sends.
        Assert.Equal(HttpStatusCode.NotFound, spoofed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, grpcPortMetrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.Contains("msswift_gateway_rejections", await scraped.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, publicHealth.StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_refused_over_http_and_grpc()
    {
        using var user = cluster.Http(GatewayCluster.UserKey);
        var prompt = new string('x', GatewayCluster.MaxBodyBytes * 2);

        var http = await user.PostAsJsonAsync("/v1/completions", new { model = "tiny", prompt, max_tokens = 1 });
        var grpc = await Assert.ThrowsAsync<RpcException>(() => cluster.Models.PredictAsync(Request(prompt), GatewayCluster.Credentials(GatewayCluster.UserKey)).ResponseAsync);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, http.StatusCode);
        Assert.Contains("exceeds the gateway's limit", (await http.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(StatusCode.ResourceExhausted, grpc.StatusCode);
    }

    [Fact]
    public async Task Every_answer_carries_a_request_id_and_a_callers_own_is_kept()
    {
        using var user = cluster.Http(GatewayCluster.UserKey);
        using var anonymous = cluster.Http(null);
        using var mine = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        mine.Headers.Add("x-request-id", "my-request-42");

        var kept = await user.SendAsync(mine);
        var generated = await user.GetAsync("/v1/models");
        var refused = await anonymous.GetAsync("/v1/models");

        Assert.Equal("my-request-42", kept.Headers.GetValues("x-request-id").Single());
        Assert.Matches("^[0-9a-f]{32}$", generated.Headers.GetValues("x-request-id").Single());
        Assert.True(refused.Headers.Contains("x-request-id"));
    }

    internal static PredictRequest Request(string prompt) => new()
    {
        InputData = ByteString.CopyFrom(Encoding.UTF8.GetBytes(prompt)),
        Parameters = new GenerationParameters { MaxNewTokens = 2 },
    };
}
