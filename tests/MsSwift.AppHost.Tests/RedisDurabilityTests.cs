using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using MsSwift.Testing;
using StackExchange.Redis;

namespace MsSwift.AppHost.Tests;

/// <summary>The AppHost's local Redis (a real redis-server, nothing else started) across a restart.</summary>
[Collection(WholeAppGroup.Name)]
public sealed class RedisDurabilityTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Local_redis_keeps_acknowledged_writes_across_a_restart_in_its_data_directory()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("msswift-apphost-redis-").FullName;
        using var timeout = new CancellationTokenSource(Timeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MsSwift_AppHost>(
            ["Infrastructure:Mode=local", $"Redis:DataDirectory={dataDirectory}", "Cli:ConnectionFile="], timeout.Token);
        foreach (var other in builder.Resources.Where(resource => resource.Name != "redis").ToList())
        {
            builder.Resources.Remove(other);
        }

        var app = await builder.BuildAsync(timeout.Token);
        try
        {
            await app.StartAsync(timeout.Token);
            await app.ResourceNotifications.WaitForResourceHealthyAsync("redis", timeout.Token);
            var connectionString = await app.GetConnectionStringAsync("redis", timeout.Token);
            await using (var redis = await ConnectionMultiplexer.ConnectAsync(connectionString!))
            {
                Assert.True(await redis.GetDatabase().StringSetAsync("msswift:test:acknowledged", "kept"));
            }

            var restarted = await app.Services.GetRequiredService<ResourceCommandService>()
                .ExecuteCommandAsync("redis", KnownResourceCommands.RestartCommand, timeout.Token);
            Assert.True(restarted.Success, restarted.Message);
            // Waiting on the resource's health right after a restart can see the stopped process's
            // last state (Aspire reports it as "failed to start"): wait for the server itself instead.
            Assert.True(await Poll.UntilAsync(() => AnswersAsync(connectionString!), Timeout, TimeSpan.FromMilliseconds(100)), "redis did not come back after the restart");

            await using var reconnected = await ConnectionMultiplexer.ConnectAsync(connectionString!);
            Assert.Equal("kept", await reconnected.GetDatabase().StringGetAsync("msswift:test:acknowledged"));
            Assert.True(Directory.EnumerateFiles(dataDirectory, "*.aof", SearchOption.AllDirectories).Any(), "no append-only file in the data directory");
        }
        finally
        {
            await app.StopAsync().WaitAsync(Timeout);
            await app.DisposeAsync().AsTask().WaitAsync(Timeout);
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private static async Task<bool> AnswersAsync(string connectionString)
    {
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(connectionString + ",abortConnect=false,connectTimeout=1000");
            return redis.IsConnected && await redis.GetDatabase().PingAsync() > TimeSpan.Zero;
        }
        catch (RedisException)
        {
            return false;
        }
    }
}
