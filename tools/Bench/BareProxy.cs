using System.Globalization;
using MsSwift.Testing;

namespace MsSwift.Bench;

/// <summary>tools/BareProxy (YARP alone) as a process on a free port, forwarding to <c>backend</c>.</summary>
internal sealed class BareProxy : ChildProcess
{
    private static readonly string ProxyPath = BuildMetadata.Get(typeof(BareProxy).Assembly, "BareProxyPath");

    private BareProxy(int port, Uri backend)
        : base("dotnet", ["exec", ProxyPath, port.ToString(CultureInfo.InvariantCulture), backend.ToString()])
    {
        Address = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri Address { get; }

    public static Task<BareProxy> StartAsync(Uri backend)
    {
        var port = FreeTcpPort.Next();
        return ListeningAsync(new BareProxy(port, backend), port, TimeSpan.FromSeconds(30));
    }
}
