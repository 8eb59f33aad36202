using MsSwift.Contracts.Data.V1;

namespace MsSwift.Testing.Services;

/// <summary>The real data service as a process, storing datasets in the infrastructure's checkpoint directory.</summary>
public sealed class DataServer : ServiceProcess
{
    private DataServer(ServiceInfrastructure infrastructure, int httpPort, IReadOnlyList<string> allowedPaths, IReadOnlyDictionary<string, string?>? settings)
        : base("DataServicePath", httpPort, FreeTcpPort.Next(), Settings(infrastructure, allowedPaths, settings))
    {
        Client = new DataService.DataServiceClient(Channel);
    }

    public DataService.DataServiceClient Client { get; }

    /// <param name="infrastructure">Redis and the storage directory.</param>
    /// <param name="allowedPaths">Data:AllowedPaths.</param>
    /// <param name="settings">More settings on top (environment variable names, e.g. <c>Data__CacheDirectory</c>).</param>
    public static Task<DataServer> StartReadyAsync(ServiceInfrastructure infrastructure, IReadOnlyList<string> allowedPaths, IReadOnlyDictionary<string, string?>? settings = null) =>
        WithFreshPortsOnClashAsync(() => ReadyAsync(new DataServer(infrastructure, FreeTcpPort.Next(), allowedPaths, settings), TimeSpan.FromSeconds(60)));

    private static Dictionary<string, string?> Settings(ServiceInfrastructure infrastructure, IReadOnlyList<string> allowedPaths, IReadOnlyDictionary<string, string?>? overlay)
    {
        var settings = infrastructure.ConnectionSettings();
        settings["Data__StorageDirectory"] = infrastructure.CheckpointDirectory;
        for (var i = 0; i < allowedPaths.Count; i++)
        {
            settings[$"Data__AllowedPaths__{i}"] = allowedPaths[i];
        }

        foreach (var (key, value) in overlay ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }
}
