using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using MsSwift.Testing;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>The shared gRPC client policy against a real gRPC server that fails on purpose.</summary>
public sealed class GrpcRetryTests : IAsyncLifetime
{
    private readonly FlakyHealthService _service = new();
    private WebApplication _server = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        _port = FreeTcpPort.Next();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(_port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(_service);
        _server = builder.Build();
        _server.MapGrpcService<FlakyHealthService>();
        await _server.StartAsync();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Unavailable_answers_are_retried_until_the_call_succeeds()
    {
        _service.FailNext(2, StatusCode.Unavailable);

        var response = await CreateClient().CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
        Assert.Equal(3, _service.Calls);
    }

    [Fact]
    public async Task Other_errors_are_not_retried()
    {
        _service.FailNext(1, StatusCode.InvalidArgument);

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateClient().CheckAsync(new HealthCheckRequest()).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(1, _service.Calls);
    }

    [Fact]
    public async Task Retries_stop_after_the_attempt_limit()
    {
        _service.FailNext(100, StatusCode.Unavailable);

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateClient().CheckAsync(new HealthCheckRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(5, _service.Calls);
    }

    private Health.HealthClient CreateClient()
    {
        var services = new ServiceCollection();
        services.AddServiceGrpcClient<Health.HealthClient>($"http://127.0.0.1:{_port}");
        return services.BuildServiceProvider().GetRequiredService<Health.HealthClient>();
    }

    private sealed class FlakyHealthService : Health.HealthBase
    {
        private int _failuresLeft;
        private StatusCode _failure;
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void FailNext(int count, StatusCode status)
        {
            _failure = status;
            Volatile.Write(ref _failuresLeft, count);
        }

        public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref _calls);
            if (Interlocked.Decrement(ref _failuresLeft) >= 0)
            {
                throw new RpcException(new Status(_failure, "failing on purpose"));
            }

            return Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
        }
    }
}
