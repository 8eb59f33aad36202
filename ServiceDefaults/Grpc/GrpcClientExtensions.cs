using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

public static class GrpcClientExtensions
{
    /// <summary>
    /// gRPC's own retry policy for transient <see cref="StatusCode.Unavailable"/> answers (a replica
    /// restarting, a connection refused). Per the gRPC retry design the n-th retry waits a random
    /// time in [0, min(InitialBackoff * Multiplier^(n-1), MaxBackoff)]: exponential backoff with
    /// full jitter, so many clients do not retry in step.
    /// </summary>
    public static ServiceConfig CreateRetryServiceConfig(int maxAttempts = 5, TimeSpan? initialBackoff = null, TimeSpan? maxBackoff = null) => new()
    {
        MethodConfigs =
        {
            new MethodConfig
            {
                Names = { MethodName.Default },
                RetryPolicy = new RetryPolicy
                {
                    MaxAttempts = maxAttempts,
                    InitialBackoff = initialBackoff ?? TimeSpan.FromMilliseconds(100),
                    MaxBackoff = maxBackoff ?? TimeSpan.FromSeconds(5),
                    BackoffMultiplier = 2,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            },
        },
    };

    /// <summary>
    /// Registers a typed gRPC client for <paramref name="address"/> (a service-discovery name such
    /// as <c>http://_grpc.inference</c>), with the retry policy above and deadline/cancellation
    /// propagation from the incoming call.
    /// </summary>
    public static IHttpClientBuilder AddServiceGrpcClient<TClient>(this IServiceCollection services, string address)
        where TClient : class
    {
        var builder = services
            .AddGrpcClient<TClient>(options => options.Address = new Uri(address))
            .ConfigureChannel(channel => channel.ServiceConfig = CreateRetryServiceConfig())
            .EnableCallContextPropagation(options => options.SuppressContextNotFoundErrors = true);

        // The HTTP resilience handler's fixed timeouts would cut long-running streams such as
        // Train; gRPC retries and call deadlines cover these clients instead.
#pragma warning disable EXTEXP0001
        builder.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        return builder;
    }
}
