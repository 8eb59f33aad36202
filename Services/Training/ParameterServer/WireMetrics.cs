using System.Diagnostics.Metrics;

namespace MsSwift.Training.ParameterServer;

/// <summary>Bytes of parameters and gradients the parameter server sent and received (meter <c>MsSwift.Training</c>).</summary>
public sealed class WireMetrics
{
    public const string MeterName = "MsSwift.Training";

    private readonly Counter<long> _bytes;
    private long _sent;
    private long _received;

    public WireMetrics(IMeterFactory meters)
    {
        _bytes = meters.Create(MeterName).CreateCounter<long>("msswift.training.wire.bytes", "By", "Parameter and gradient bytes on the parameter-server wire, by direction");
    }

    public long BytesSent => Interlocked.Read(ref _sent);

    public long BytesReceived => Interlocked.Read(ref _received);

    public void Sent(long bytes)
    {
        Interlocked.Add(ref _sent, bytes);
        _bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "sent"));
    }

    public void Received(long bytes)
    {
        Interlocked.Add(ref _received, bytes);
        _bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "received"));
    }
}
