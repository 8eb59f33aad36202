using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using MsSwift.Cli.Infrastructure;
using MsSwift.Testing;
using Spectre.Console;

namespace MsSwift.Cli.Tests;

/// <summary>Tests that drive one real local cluster with the CLI, one at a time (2 cores, one cluster).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LocalClusterGroup : ICollectionFixture<LocalCluster>
{
    public const string Name = "CLI against a local cluster";
}

/// <summary>
/// The real AppHost in local mode (redis-server, the dev broker, every service, two training
/// workers, the bundled model seeded as demo v1), started once for the CLI tests. The CLI finds
/// it as a user's does: through the connection file the AppHost writes when the gateway is ready.
/// </summary>
public sealed class LocalCluster : IAsyncLifetime
{
    private static readonly string[] Resources = ["redis", "kafka", "registry", "data", "training", "worker", "inference", "gateway"];
    private readonly string state = Directory.CreateTempSubdirectory("msswift-cli-cluster-").FullName;
    private DistributedApplication? app;

    public string ConnectionFile => Path.Combine(state, "local-cluster.json");

    /// <summary>A folder of this cluster's own for files a test writes (plots, uploads).</summary>
    public string Scratch => Directory.CreateDirectory(Path.Combine(state, "scratch")).FullName;

    public async Task InitializeAsync()
    {
        using var startup = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MsSwift_AppHost>(
            [
                "Infrastructure:Mode=local", $"Gateway:HttpPort={FreeTcpPort.Next()}", $"Gateway:GrpcPort={FreeTcpPort.Next()}",
                $"Redis:DataDirectory={Path.Combine(state, "redis")}", $"Checkpoints:Directory={Path.Combine(state, "checkpoints")}",
                $"Cli:ConnectionFile={ConnectionFile}", "Training:Workers=2",
            ],
            startup.Token);
        app = await builder.BuildAsync(startup.Token);
        await app.StartAsync(startup.Token);
        foreach (var resource in Resources)
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, startup.Token);
        }

        await Poll.UntilAsync(() => Task.FromResult(File.Exists(ConnectionFile)), TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.StopAsync().WaitAsync(TimeSpan.FromMinutes(1));
            await app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(1));
        }

        Directory.Delete(state, recursive: true);
    }

    /// <summary>Runs <c>msswift args</c> in process, as a user's shell would, with this cluster's connection file.</summary>
    public Task<CliRun> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>
    /// Runs <c>msswift args</c>; <paramref name="interrupt"/> is Ctrl+C, <paramref name="input"/>
    /// what the user types. <paramref name="watch"/>, when given, sees the output so far while the
    /// command runs (to press Ctrl+C at the right moment).
    /// </summary>
    public async Task<CliRun> RunAsync(
        string? input, string[] args, Action<string>? watch = null, Dictionary<string, string>? variables = null, CancellationToken interrupt = default)
    {
        // A console of our own rather than Spectre's TestConsole: the watch reads the output while
        // the command writes it, so every write and read takes the synchronized writer's lock.
        using var output = new StringWriter();
        var synchronizedOutput = TextWriter.Synchronized(output);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(synchronizedOutput),
        });
        console.Profile.Width = 240;
        string Snapshot()
        {
            lock (synchronizedOutput)
            {
                return output.ToString();
            }
        }

        using var error = new StringWriter();
        var environment = new Dictionary<string, string> { [MsSwift.Contracts.LocalClusterFile.EnvironmentVariable] = ConnectionFile };
        foreach (var (name, value) in variables ?? [])
        {
            environment[name] = value;
        }

        var cli = new CliEnvironment(console, TextWriter.Synchronized(error), new StringReader(input ?? ""), name => environment.GetValueOrDefault(name));
        var run = CliApp.RunAsync(args, cli, interrupt);
        if (watch is not null)
        {
            while (!run.IsCompleted)
            {
                watch(Snapshot());
                await Task.WhenAny(run, Task.Delay(100, CancellationToken.None));
            }
        }

        var exitCode = await run;
        return new CliRun(exitCode, Snapshot(), error.ToString());
    }
}

/// <summary>What a CLI run printed and how it exited.</summary>
public sealed record CliRun(int ExitCode, string Output, string Error)
{
    public JsonElement Json => JsonDocument.Parse(Output).RootElement;

    /// <summary>Each line of output as JSON (streams print one document per line).</summary>
    public IReadOnlyList<JsonElement> JsonLines =>
        Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}
