using System.Net;
using System.Net.Sockets;

namespace MsSwift.KafkaDevBroker;

/// <summary>
/// Listens on a fixed port and pipes every connection to the mock broker's random port, so the
/// broker has an address the AppHost can hand out before it starts.
/// </summary>
internal sealed class TcpForwarder(IPEndPoint listenOn, IPEndPoint forwardTo) : IAsyncDisposable
{
    private readonly TcpListener _listener = new(listenOn);
    private readonly CancellationTokenSource _stopping = new();
    private Task _acceptLoop = Task.CompletedTask;

    public IPEndPoint LocalEndpoint => (IPEndPoint)_listener.LocalEndpoint;

    public void Start()
    {
        _listener.Start();
        _acceptLoop = AcceptLoopAsync(_stopping.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(stopping);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = PipeAsync(client, stopping);
        }
    }

    private async Task PipeAsync(TcpClient client, CancellationToken stopping)
    {
        using (client)
        using (var upstream = new TcpClient())
        {
            try
            {
                client.NoDelay = true;
                upstream.NoDelay = true;
                await upstream.ConnectAsync(forwardTo, stopping);
                var clientStream = client.GetStream();
                var upstreamStream = upstream.GetStream();
                // Either side closing ends the pair, as a direct connection would.
                await Task.WhenAny(
                    clientStream.CopyToAsync(upstreamStream, stopping),
                    upstreamStream.CopyToAsync(clientStream, stopping));
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // The peer went away; nothing to clean up beyond the sockets.
            }
        }
    }
}
