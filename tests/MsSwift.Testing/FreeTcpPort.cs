using System.Net;
using System.Net.Sockets;

namespace MsSwift.Testing;

public static class FreeTcpPort
{
    // Below Linux's ephemeral range (32768-60999): a port the OS handed out as "free" there can be
    // taken by any outgoing connection (Kafka, Redis clients) before the server binds it.
    private const int First = 20000;
    private const int Count = 12000;

    // Each test process walks its own stretch of the range, so parallel test projects rarely meet.
    private static int _next = Environment.ProcessId * 7919 % Count;

    /// <summary>A loopback port outside the ephemeral range that was free a moment ago.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < Count; attempt++)
        {
            var port = First + Interlocked.Increment(ref _next) % Count;
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: try the next one.
            }
        }

        throw new InvalidOperationException($"no free loopback port in {First}-{First + Count - 1}");
    }
}
