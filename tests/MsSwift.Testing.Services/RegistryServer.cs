using MsSwift.Contracts.Registry.V1;

namespace MsSwift.Testing.Services;

/// <summary>The real registry service as a process, on shared <see cref="ServiceInfrastructure"/> (which it leaves running).</summary>
public sealed class RegistryServer : ServiceProcess
{
    private RegistryServer(ServiceInfrastructure infrastructure, int httpPort)
        : base("RegistryServicePath", httpPort, FreeTcpPort.Next(), Settings(infrastructure))
    {
        Reader = new ModelRegistry.ModelRegistryClient(Channel);
        Admin = new ModelRegistryAdmin.ModelRegistryAdminClient(Channel);
    }

    public ModelRegistry.ModelRegistryClient Reader { get; }

    public ModelRegistryAdmin.ModelRegistryAdminClient Admin { get; }

    public static Task<RegistryServer> StartReadyAsync(ServiceInfrastructure infrastructure) =>
        ReadyAsync(new RegistryServer(infrastructure, FreeTcpPort.Next()), TimeSpan.FromSeconds(60));

    private static Dictionary<string, string?> Settings(ServiceInfrastructure infrastructure)
    {
        var settings = infrastructure.ConnectionSettings();
        settings["Registry__CheckpointDirectory"] = infrastructure.CheckpointDirectory;
        return settings;
    }
}
