using System.Runtime.InteropServices;

namespace MsSwift.KafkaDevBroker;

/// <summary>
/// librdkafka's in-process mock Kafka cluster, reached through the native library that
/// Confluent.Kafka's <c>librdkafka.redist</c> ships. It speaks the real Kafka protocol
/// (produce, fetch, consumer groups, offsets, idempotence) but keeps data in memory only.
/// </summary>
internal sealed partial class MockCluster : IDisposable
{
    private readonly IntPtr _library;
    private readonly IntPtr _client;
    private readonly IntPtr _cluster;
    private readonly Native _native;

    private MockCluster(IntPtr library, Native native, IntPtr client, IntPtr cluster)
    {
        _library = library;
        _native = native;
        _client = client;
        _cluster = cluster;
        Bootstraps = Marshal.PtrToStringUTF8(native.ClusterBootstraps(cluster))
            ?? throw new InvalidOperationException("the mock cluster returned no bootstrap servers");
    }

    /// <summary>Where the mock brokers really listen (random loopback ports).</summary>
    public string Bootstraps { get; }

    public static MockCluster Start(int brokers)
    {
        var library = NativeLibrary.Load(FindLibrary());
        var native = new Native(library);

        var conf = native.ConfNew();
        var error = new byte[512];
        // The hosting client has no bootstrap servers by design; keep its notices out of the log.
        native.ConfSet(conf, "log_level", "4", error, error.Length);
        var client = native.New(0 /* RD_KAFKA_PRODUCER */, conf, error, error.Length);
        if (client == IntPtr.Zero)
        {
            throw new InvalidOperationException($"rd_kafka_new failed: {System.Text.Encoding.UTF8.GetString(error).TrimEnd('\0')}");
        }

        var cluster = native.ClusterNew(client, brokers);
        if (cluster == IntPtr.Zero)
        {
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed");
        }

        // A consumer joining a group should not wait the default 3 s before its first assignment.
        native.GroupInitialRebalanceDelayMs(cluster, 0);
        return new MockCluster(library, native, client, cluster);
    }

    public void CreateTopic(string name, int partitions)
    {
        var err = _native.TopicCreate(_cluster, name, partitions, 1);
        if (err != 0)
        {
            throw new InvalidOperationException($"creating topic '{name}' failed with librdkafka error {err}");
        }
    }

    /// <summary>Makes metadata responses send clients to <paramref name="host"/>:<paramref name="port"/> for this broker.</summary>
    public void Advertise(int brokerId, string host, int port) => _native.BrokerSetHostPort(_cluster, brokerId, host, port);

    public void Dispose()
    {
        _native.ClusterDestroy(_cluster);
        _native.Destroy(_client);
        NativeLibrary.Free(_library);
    }

    /// <summary>
    /// The bundled <c>librdkafka.so</c> needs libsasl2.so.3, which Debian lacks; the centos8 build
    /// is self-contained. Confluent.Kafka makes the same fallback for its own clients.
    /// </summary>
    private static string FindLibrary()
    {
        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        foreach (var name in new[] { "centos8-librdkafka.so", "librdkafka.so" })
        {
            var path = Path.Combine(native, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException($"librdkafka was not found under {native}; build the project for linux-x64");
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ConfNewFn();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int ConfSetFn(IntPtr conf, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, byte[] errstr, nint errstrSize);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr NewFn(int type, IntPtr conf, byte[] errstr, nint errstrSize);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void DestroyFn(IntPtr rk);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ClusterNewFn(IntPtr rk, int brokers);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void ClusterDestroyFn(IntPtr cluster);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ClusterBootstrapsFn(IntPtr cluster);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int TopicCreateFn(IntPtr cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitions, int replication);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void GroupInitialRebalanceDelayMsFn(IntPtr cluster, int delayMs);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void BrokerSetHostPortFn(IntPtr cluster, int brokerId, [MarshalAs(UnmanagedType.LPUTF8Str)] string host, int port);

    private sealed class Native(IntPtr library)
    {
        public ConfNewFn ConfNew { get; } = Bind<ConfNewFn>(library, "rd_kafka_conf_new");
        public ConfSetFn ConfSet { get; } = Bind<ConfSetFn>(library, "rd_kafka_conf_set");
        public NewFn New { get; } = Bind<NewFn>(library, "rd_kafka_new");
        public DestroyFn Destroy { get; } = Bind<DestroyFn>(library, "rd_kafka_destroy");
        public ClusterNewFn ClusterNew { get; } = Bind<ClusterNewFn>(library, "rd_kafka_mock_cluster_new");
        public ClusterDestroyFn ClusterDestroy { get; } = Bind<ClusterDestroyFn>(library, "rd_kafka_mock_cluster_destroy");
        public ClusterBootstrapsFn ClusterBootstraps { get; } = Bind<ClusterBootstrapsFn>(library, "rd_kafka_mock_cluster_bootstraps");
        public TopicCreateFn TopicCreate { get; } = Bind<TopicCreateFn>(library, "rd_kafka_mock_topic_create");
        public GroupInitialRebalanceDelayMsFn GroupInitialRebalanceDelayMs { get; } = Bind<GroupInitialRebalanceDelayMsFn>(library, "rd_kafka_mock_group_initial_rebalance_delay_ms");
        public BrokerSetHostPortFn BrokerSetHostPort { get; } = Bind<BrokerSetHostPortFn>(library, "rd_kafka_mock_broker_set_host_port");

        private static T Bind<T>(IntPtr library, string name) where T : Delegate =>
            Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(library, name));
    }
}
