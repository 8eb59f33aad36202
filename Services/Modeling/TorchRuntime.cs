using TorchSharp;
using static TorchSharp.torch;

namespace MsSwift.Modeling;

/// <summary>
/// Process-wide libtorch settings. libtorch's thread pools are global, so they are set once,
/// early, from configuration; the device is CUDA when this build and machine have it, else CPU.
/// </summary>
public static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static Device? _device;

    /// <summary>The device models run on.</summary>
    public static Device Device
    {
        get
        {
            lock (Gate)
            {
                return _device ??= cuda.is_available() ? CUDA : CPU;
            }
        }
    }

    /// <summary>
    /// Sets libtorch's intra-op thread count (0 keeps libtorch's default, one per core).
    /// On a shared host, fewer threads than cores leaves room for the web server and Kafka.
    /// </summary>
    public static void Configure(int intraOpThreads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(intraOpThreads);
        if (intraOpThreads > 0)
        {
            set_num_threads(intraOpThreads);
        }
    }

    /// <summary>libtorch's current intra-op thread count.</summary>
    public static int IntraOpThreads => get_num_threads();

    /// <summary>The libtorch version this process loaded (also proves the native library loads).</summary>
    public static string LibTorchVersion => torch.__version__;
}
