using Microsoft.Extensions.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace MsSwift.Modeling;

/// <summary>
/// Process-wide libtorch settings. libtorch's thread pools are global, so they are set once,
/// early, from configuration; the device is CUDA when this build and machine have it, else CPU.
/// </summary>
public static class TorchRuntime
{
    /// <summary>Configuration key of the intra-op thread count (0 or absent: libtorch's default).</summary>
    public const string IntraOpThreadsKey = "Torch:IntraOpThreads";

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

    /// <summary>Applies <see cref="IntraOpThreadsKey"/> from configuration; a bad value is refused naming the key.</summary>
    public static void Configure(IConfiguration configuration)
    {
        var text = configuration[IntraOpThreadsKey];
        if (string.IsNullOrWhiteSpace(text))
        {
            return;
        }

        if (!int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var threads) || threads < 0)
        {
            throw new ArgumentException($"{IntraOpThreadsKey} must be 0 (libtorch's default) or a positive thread count, got '{text}'", nameof(configuration));
        }

        Configure(threads);
    }

    /// <summary>libtorch's current intra-op thread count.</summary>
    public static int IntraOpThreads => get_num_threads();

    /// <summary>The libtorch version this process loaded (also proves the native library loads).</summary>
    public static string LibTorchVersion => torch.__version__;
}
