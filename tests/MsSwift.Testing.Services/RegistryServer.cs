using MsSwift.Contracts.Registry.V1;

namespace MsSwift.Testing.Services;

/// <summary>The real registry service as a process, on shared <see cref="ServiceInfrastructure"/> (which it leaves running).</summary>
public sealed class RegistryServer : ServiceProcess
{
    private RegistryServer(ServiceInfrastructure infrastructure, int httpPort, IReadOnlyDictionary<string, string?>? settings)
        : base("RegistryServicePath", httpPort, FreeTcpPort.Next(), Settings(infrastructure, settings))
    {
        Reader = new ModelRegistry.ModelRegistryClient(Channel);
        Admin = new ModelRegistryAdmin.ModelRegistryAdminClient(Channel);
    }

    public ModelRegistry.ModelRegistryClient Reader { get; }

    public ModelRegistryAdmin.ModelRegistryAdminClient Admin { get; }

    /// <param name="infrastructure">Redis, broker and the checkpoint directory it reads by default.</param>
    /// <param name="settings">Extra environment, overriding the defaults.</param>
    public static Task<RegistryServer> StartReadyAsync(ServiceInfrastructure infrastructure, IReadOnlyDictionary<string, string?>? settings = null) =>
        WithFreshPortsOnClashAsync(() => ReadyAsync(new RegistryServer(infrastructure, FreeTcpPort.Next(), settings), TimeSpan.FromSeconds(60)));

    private static Dictionary<string, string?> Settings(ServiceInfrastructure infrastructure, IReadOnlyDictionary<string, string?>? extra)
    {
        var settings = infrastructure.ConnectionSettings();
        settings["Registry__CheckpointDirectory"] = infrastructure.CheckpointDirectory;
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }
}
