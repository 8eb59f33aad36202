using System.Collections.Concurrent;
using Grpc.Net.Client;
using MsSwift.Training.ParameterServer;
using ParameterServerClient = MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerClient;

namespace MsSwift.Training.Workers;

/// <summary>
/// One gRPC channel per job leader's address (from the job store), so a worker dials the
/// coordinator that leads its job, whichever of several it is, and follows it when it moves.
/// </summary>
public sealed class LeaderChannels : IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    public ParameterServerClient For(string address) => new(_channels.GetOrAdd(address, static address => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        // Parameters of a large model arrive in chunks, but a chunk may exceed the default 4 MB.
        MaxReceiveMessageSize = null,
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            // A leader that vanished without closing the connection is noticed within a straggler timeout.
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            InitialHttp2StreamWindowSize = WireCodec.Http2WindowBytes,
        },
    })));

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }

        _channels.Clear();
    }
}
