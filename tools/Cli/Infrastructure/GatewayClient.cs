using System.Net.Http.Headers;
using Grpc.Net.Client;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;

namespace MsSwift.Cli.Infrastructure;

/// <summary>
/// The CLI's only way into the cluster: the gateway's HTTP API and its gRPC port, with the key on
/// every request. Nothing here retries: a command fails at once with one clear line instead.
/// </summary>
internal sealed class GatewayClient : IDisposable
{
    // ListModels returns every record in one message; the default 4 MB would cap a large registry.
    private const int MaxReceiveBytes = 64 * 1024 * 1024;

    private readonly GrpcChannel channel;

    public GatewayClient(GatewayConnection connection)
    {
        Connection = connection;
        Http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) })
        {
            BaseAddress = connection.Http,
            // Uploads and streamed answers take as long as they take; Ctrl+C ends them.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (connection.ApiKey is { } key)
        {
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        channel = GrpcChannel.ForAddress(connection.Grpc, new GrpcChannelOptions
        {
            HttpHandler = new KeyHandler(connection.ApiKey) { InnerHandler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) } },
            MaxReceiveMessageSize = MaxReceiveBytes,
            // Ctrl+C is an OperationCanceledException, not a Cancelled status that reads as a failure.
            ThrowOperationCanceledOnCancellation = true,
        });
        Models = new ModelService.ModelServiceClient(channel);
        Registry = new ModelRegistry.ModelRegistryClient(channel);
        RegistryAdmin = new ModelRegistryAdmin.ModelRegistryAdminClient(channel);
    }

    public GatewayConnection Connection { get; }

    public HttpClient Http { get; }

    /// <summary>Predict and PredictStream (inference), Train and CancelTrain (training): one service, routed by method.</summary>
    public ModelService.ModelServiceClient Models { get; }

    public ModelRegistry.ModelRegistryClient Registry { get; }

    public ModelRegistryAdmin.ModelRegistryAdminClient RegistryAdmin { get; }

    public void Dispose()
    {
        channel.Dispose();
        Http.Dispose();
    }

    private sealed class KeyHandler(string? key) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (key is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
