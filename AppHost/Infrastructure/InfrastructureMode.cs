using System.Diagnostics;

namespace MsSwift.AppHost.Infrastructure;

/// <summary>Where Redis and Kafka come from. Services never know: they only get connection strings.</summary>
internal enum InfrastructureMode
{
    /// <summary><c>redis-server</c> and the Kafka dev broker as local processes (no container runtime needed).</summary>
    Local,

    /// <summary>Redis and Kafka (KRaft) containers; also the shape published to Kubernetes.</summary>
    Containers,

    /// <summary>Existing servers, given as <c>ConnectionStrings:redis</c> and <c>ConnectionStrings:kafka</c>.</summary>
    External,
}

internal static class InfrastructureModeSelector
{
    public const string ConfigurationKey = "Infrastructure:Mode";

    /// <summary>
    /// <c>Infrastructure:Mode</c> when set to local, containers or external; otherwise ("auto", the
    /// default) containers when Docker or Podman answers, else local. Publishing always describes
    /// containers, so the manifest does not depend on the machine that generated it.
    /// </summary>
    public static InfrastructureMode GetInfrastructureMode(this IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration[ConfigurationKey];
        if (string.IsNullOrWhiteSpace(configured) || configured.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return builder.ExecutionContext.IsPublishMode || ContainerRuntimeAnswers()
                ? InfrastructureMode.Containers
                : InfrastructureMode.Local;
        }

        if (Enum.TryParse<InfrastructureMode>(configured, ignoreCase: true, out var mode) && Enum.IsDefined(mode) && !int.TryParse(configured, out _))
        {
            return mode;
        }

        throw new DistributedApplicationException(
            $"{ConfigurationKey} must be one of auto, local, containers, external; got '{configured}'");
    }

    /// <summary>Asks the runtime Aspire would use (ASPIRE_CONTAINER_RUNTIME, else docker, then podman) for its server version.</summary>
    private static bool ContainerRuntimeAnswers()
    {
        var preferred = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME")
            ?? Environment.GetEnvironmentVariable("DOTNET_ASPIRE_CONTAINER_RUNTIME");
        string[] candidates = string.IsNullOrWhiteSpace(preferred) ? ["docker", "podman"] : [preferred];
        return candidates.Any(Answers);
    }

    private static bool Answers(string runtime)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null)
            {
                return false;
            }

            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }
}
