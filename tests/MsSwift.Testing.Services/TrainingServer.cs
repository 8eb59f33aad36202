using System.Globalization;
using MsSwift.Contracts.V1;

namespace MsSwift.Testing.Services;

/// <summary>The real training service as a process: the coordinator (Train API, parameter servers) or a worker.</summary>
public sealed class TrainingServer : ServiceProcess
{
    private TrainingServer(int httpPort, int grpcPort, IReadOnlyDictionary<string, string?> settings)
        : base("TrainingServicePath", httpPort, grpcPort, settings)
    {
        Client = new ModelService.ModelServiceClient(Channel);
    }

    public ModelService.ModelServiceClient Client { get; }

    /// <param name="infrastructure">Redis, broker and the checkpoint directory.</param>
    /// <param name="data">The data service.</param>
    /// <param name="registry">The registry results are registered in.</param>
    /// <param name="stragglerTimeoutSeconds">The parameter servers' straggler timeout.</param>
    /// <param name="grpcPort">A fixed gRPC port, to restart a coordinator where workers look for it.</param>
    /// <param name="overrides">Settings on top of these (environment variable names, e.g. <c>Training__MaxConcurrentJobs</c>).</param>
    public static Task<TrainingServer> StartCoordinatorAsync(
        ServiceInfrastructure infrastructure, ServiceProcess data, ServiceProcess registry, double stragglerTimeoutSeconds, int? grpcPort = null,
        IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = infrastructure.ConnectionSettings();
        settings["Training__Role"] = "Coordinator";
        settings["Training__CheckpointDirectory"] = infrastructure.CheckpointDirectory;
        settings["Training__StragglerTimeoutSeconds"] = stragglerTimeoutSeconds.ToString(CultureInfo.InvariantCulture);
        settings["Torch__IntraOpThreads"] = "1";
        settings["services__data__grpc__0"] = data.GrpcAddress.ToString();
        settings["services__registry__grpc__0"] = registry.GrpcAddress.ToString();
        Overlay(settings, overrides);
        return WithFreshPortsOnClashAsync(() => ReadyAsync(new TrainingServer(FreeTcpPort.Next(), grpcPort ?? FreeTcpPort.Next(), settings), TimeSpan.FromSeconds(60)));
    }

    /// <param name="infrastructure">Redis and broker.</param>
    /// <param name="data">The data service.</param>
    /// <param name="coordinator">The coordinator whose parameter servers the worker dials.</param>
    /// <param name="overrides">Settings on top of these, as for the coordinator (e.g. <c>Torch__IntraOpThreads</c>).</param>
    public static Task<TrainingServer> StartWorkerAsync(
        ServiceInfrastructure infrastructure, ServiceProcess data, TrainingServer coordinator, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = infrastructure.ConnectionSettings();
        settings["Training__Role"] = "Worker";
        settings["Torch__IntraOpThreads"] = "1";
        settings["services__data__grpc__0"] = data.GrpcAddress.ToString();
        settings["services__training__grpc__0"] = coordinator.GrpcAddress.ToString();
        Overlay(settings, overrides);
        return WithFreshPortsOnClashAsync(() => ReadyAsync(new TrainingServer(FreeTcpPort.Next(), FreeTcpPort.Next(), settings), TimeSpan.FromSeconds(60)));
    }

    private static void Overlay(Dictionary<string, string?> settings, IReadOnlyDictionary<string, string?>? overrides)
    {
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
    }
}
