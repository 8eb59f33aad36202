using System.Net;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Testing;
using MsSwift.Testing.Services;

namespace MsSwift.Registry.Tests;

/// <summary>The real registry process while its Redis is down, and after it is back.</summary>
public sealed class RedisOutageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task While_redis_is_down_calls_get_503_and_unavailable_and_the_registry_serves_again_once_it_is_back()
    {
        await using var infrastructure = await ServiceInfrastructure.StartAsync();
        await using var registry = await RegistryServer.StartReadyAsync(infrastructure);
        using var http = new HttpClient { BaseAddress = registry.HttpAddress, Timeout = Timeout };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/registry/models")).StatusCode);

        infrastructure.Redis.Kill();
        var down = await Poll.UntilAsync(() => http.GetAsync("/registry/models"), response => response.StatusCode != HttpStatusCode.OK, Timeout);
        var grpc = await Assert.ThrowsAsync<RpcException>(() => registry.Reader.ListModelsAsync(new ListModelsRequest(), deadline: DateTime.UtcNow + Timeout).ResponseAsync);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.True(down.Headers.Contains("Retry-After"));
        Assert.Equal(StatusCode.Unavailable, grpc.StatusCode);
        Assert.False(registry.HasExited, "the registry died with its Redis");

        await infrastructure.RestartRedisAsync(RedisRestart.Empty); // it was killed: it comes back as after a crash
        var back = await Poll.UntilAsync(() => http.GetAsync("/registry/models"), response => response.StatusCode == HttpStatusCode.OK, Timeout, TimeSpan.FromMilliseconds(200));
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
    }
}
