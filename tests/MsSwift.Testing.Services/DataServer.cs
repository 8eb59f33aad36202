using MsSwift.Contracts.Data.V1;

namespace MsSwift.Testing.Services;

/// <summary>The real data service as a process, storing datasets in the infrastructure's checkpoint directory.</summary>
public sealed class DataServer : ServiceProcess
{
    private DataServer(ServiceInfrastructure infrastructure, int httpPort, IReadOnlyList<string> allowedPaths)
        : base("DataServicePath", httpPort, FreeTcpPort.Next(), Settings(infrastructure, allowedPaths))
    {
        Client = new DataService.DataServiceClient(Channel);
    }

    public DataService.DataServiceClient Client { get; }

    public static Task<DataServer> StartReadyAsync(ServiceInfrastructure infrastructure, IReadOnlyList<string> allowedPaths) =>
        WithFreshPortsOnClashAsync(() => ReadyAsync(new DataServer(infrastructure, FreeTcpPort.Next(), allowedPaths), TimeSpan.FromSeconds(60)));

    private static Dictionary<string, string?> Settings(ServiceInfrastructure infrastructure, IReadOnlyList<string> allowedPaths)
    {
        var settings = infrastructure.ConnectionSettings();
        settings["Data__StorageDirectory"] = infrastructure.CheckpointDirectory;
        for (var i = 0; i < allowedPaths.Count; i++)
        {
            settings[$"Data__AllowedPaths__{i}"] = allowedPaths[i];
        }

        return settings;
    }
}
