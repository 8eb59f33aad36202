using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.V1;
using MsSwift.Testing.Services;
using MsSwift.Training.Workers;

namespace MsSwift.Bench;

/// <summary>
/// How fast a job went once warm: steps and seconds between two observed steps, and the CPU time
/// each of the cluster's processes used in between.
/// </summary>
internal sealed record SteadyState(long Steps, TimeSpan Elapsed, IReadOnlyList<(string Process, TimeSpan Cpu)> Cpu)
{
    public TimeSpan StepTime => Elapsed / Steps;

    public double StepsPerSecond => Steps / Elapsed.TotalSeconds;
}

/// <summary>
/// The training cluster as real processes, the way the tests start it: Redis, the dev broker, the
/// data service, the registry, one coordinator, and as many worker processes as a case needs.
/// Jobs go through the public API only (<c>ModelService.Train</c>), so the harness measures
/// whatever control plane the training service has.
/// </summary>
internal sealed partial class TrainingCluster : IAsyncDisposable
{
    /// <summary>Extra environment for the coordinator and the workers ("K=V;K=V"), for experiments.</summary>
    private const string TrainingEnvironment = "BENCH_TRAINING_ENV";

    private readonly List<TrainingServer> _workers = [];

    private readonly int _coordinatorThreads;

    private TrainingCluster(ServiceInfrastructure infrastructure, DataServer data, RegistryServer registry, TrainingServer coordinator, int coordinatorThreads)
    {
        Infrastructure = infrastructure;
        Data = data;
        Registry = registry;
        Coordinator = coordinator;
        _coordinatorThreads = coordinatorThreads;
    }

    public ServiceInfrastructure Infrastructure { get; }

    public DataServer Data { get; }

    public RegistryServer Registry { get; }

    public TrainingServer Coordinator { get; private set; }

    /// <param name="coordinatorThreads">libtorch intra-op threads of the coordinator (its parameter servers run the optimizer).</param>
    public static async Task<TrainingCluster> StartAsync(int coordinatorThreads)
    {
        var infrastructure = await ServiceInfrastructure.StartAsync();
        var data = await DataServer.StartReadyAsync(infrastructure, []);
        var registry = await RegistryServer.StartReadyAsync(infrastructure);
        return new TrainingCluster(infrastructure, data, registry, await StartCoordinatorAsync(infrastructure, data, registry, coordinatorThreads), coordinatorThreads);
    }

    /// <summary>Uploads a text file as a dataset (the data service's HTTP ingest) and returns its report.</summary>
    public async Task<DatasetInfo> IngestAsync(string name, string path)
    {
        using var http = new HttpClient { BaseAddress = Data.HttpAddress, Timeout = TimeSpan.FromMinutes(2) };
        await using var file = File.OpenRead(path);
        using var response = await http.PostAsync($"/datasets/{name}", new StreamContent(file) { Headers = { { "Content-Type", "text/plain" } } });
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"ingesting {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return await Data.Client.GetDatasetAsync(new GetDatasetRequest { Name = name });
    }

    /// <summary>
    /// A fresh coordinator and exactly <paramref name="count"/> worker processes, each with
    /// <paramref name="threads"/> libtorch threads. A fresh coordinator per case keeps one case's
    /// leftovers out of the next, and is a workaround: main's coordinator at 721db00 segfaults in
    /// libtorch now and then, more often over several jobs in a row (docs/BENCHMARKS.md).
    /// </summary>
    public async Task StartCaseAsync(int count, int threads)
    {
        await StopWorkersAsync();
        await Coordinator.DisposeAsync();
        Coordinator = await StartCoordinatorAsync(Infrastructure, Data, Registry, _coordinatorThreads);
        var settings = new Dictionary<string, string?>(ExperimentEnvironment.From(TrainingEnvironment))
        {
            ["Torch__IntraOpThreads"] = Invariant(threads),
            // Each step's phases (WorkerLoop's debug line), for WorkerPhases.
            ["Logging__LogLevel__MsSwift.Training.Workers.WorkerLoop"] = "Debug",
        };
        for (var i = 0; i < count; i++)
        {
            _workers.Add(await TrainingServer.StartWorkerAsync(Infrastructure, Data, Coordinator, settings));
        }
    }

    /// <summary>
    /// The mean phases of the current case's worker steps after <paramref name="warmUpSteps"/>,
    /// over every worker, from the per-step line each worker logs (WorkerLoop's LogStep).
    /// </summary>
    public WorkerStepPhases WorkerPhases(int warmUpSteps)
    {
        var steps = _workers
            .SelectMany(worker => StepLine().Matches(worker.Output))
            .Where(match => long.Parse(match.Groups["step"].Value, CultureInfo.InvariantCulture) > warmUpSteps)
            .Select(match => new WorkerStepPhases(Ms(match, "pull"), Ms(match, "data"), Ms(match, "compute"), Ms(match, "push")))
            .ToList();
        if (steps.Count == 0)
        {
            throw new InvalidOperationException("the workers logged no step phases (WorkerLoop's debug line changed?)");
        }

        return new WorkerStepPhases(Mean(steps.Select(step => step.Pull)), Mean(steps.Select(step => step.Data)),
            Mean(steps.Select(step => step.Compute)), Mean(steps.Select(step => step.Push)));

        static TimeSpan Ms(Match match, string phase) => TimeSpan.FromMilliseconds(double.Parse(match.Groups[phase].Value, CultureInfo.InvariantCulture));
        static TimeSpan Mean(IEnumerable<TimeSpan> values) => TimeSpan.FromTicks((long)values.Average(value => value.Ticks));
    }

    /// <summary>The mean time of the coordinator's optimizer update in the current case's steps after <paramref name="warmUpSteps"/> (LedJob's LogStepApplied).</summary>
    public TimeSpan CoordinatorUpdate(int warmUpSteps)
    {
        var updates = AppliedLine().Matches(Coordinator.Output)
            .Where(match => long.Parse(match.Groups["step"].Value, CultureInfo.InvariantCulture) > warmUpSteps)
            .Select(match => double.Parse(match.Groups["update"].Value, CultureInfo.InvariantCulture))
            .ToList();
        return updates.Count == 0
            ? throw new InvalidOperationException("the coordinator logged no applied steps (LedJob's debug line changed?)")
            : TimeSpan.FromMilliseconds(updates.Average());
    }

    [GeneratedRegex(@"step (?<step>\d+) applied: update (?<update>[\d.]+) ms")]
    private static partial Regex AppliedLine();

    [GeneratedRegex(@"Step (?<step>\d+) phases: pull (?<pull>[\d.]+) ms, data (?<data>[\d.]+) ms, compute (?<compute>[\d.]+) ms, push (?<push>[\d.]+) ms")]
    private static partial Regex StepLine();

    /// <summary>Every process of the cluster by role, this benchmark (the status stream's client) included.</summary>
    private List<(string Name, int ProcessId)> Processes() =>
    [
        .. _workers.Select((worker, i) => ($"worker {i + 1}", worker.ProcessId)),
        ("coordinator", Coordinator.ProcessId),
        ("data service", Data.ProcessId),
        ("registry", Registry.ProcessId),
        ("Redis", Infrastructure.Redis.ProcessId),
        ("Kafka dev broker", Infrastructure.Kafka.ProcessId),
        ("this benchmark", Environment.ProcessId),
    ];

    private static List<(string Name, TimeSpan Cpu)> CpuTimes(List<(string Name, int ProcessId)> processes) =>
        [.. processes.Select(process => (process.Name, ProcessProfile.CpuTime(process.ProcessId)))];

    /// <summary>
    /// Runs the job to its end and times its steady state: from the first status at or past
    /// <paramref name="warmUpSteps"/> to the first at its last step, as the client sees them.
    /// </summary>
    public async Task<SteadyState> TrainAsync(TrainRequest request, int warmUpSteps, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var call = Coordinator.Client.Train(request, cancellationToken: deadline.Token);
        (long Step, long Ticks)? start = null, end = null;
        List<(string Name, TimeSpan Cpu)>? cpuAtStart = null, cpuAtEnd = null;
        var processes = Processes();
        TrainStatus? last = null;
        try
        {
            await foreach (var status in call.ResponseStream.ReadAllAsync(deadline.Token))
            {
                var now = Stopwatch.GetTimestamp();
                last = status;
                if (start is null && status.Step >= warmUpSteps)
                {
                    start = (status.Step, now);
                    cpuAtStart = CpuTimes(processes);
                }

                if (end is null && status.Step >= request.Steps)
                {
                    end = (status.Step, now);
                    cpuAtEnd = CpuTimes(processes);
                }
            }
        }
        catch (RpcException error)
        {
            var what = deadline.IsCancellationRequested ? $"the job did not end within {timeout}" : $"the status stream failed ({error.Status})";
            throw new InvalidOperationException($"{what}; last status: {last}{Environment.NewLine}coordinator:{Environment.NewLine}{Coordinator.Output}", error);
        }

        if (last is not { State: TrainState.Succeeded } || start is not { } from || end is not { } to || to.Step <= from.Step)
        {
            throw new InvalidOperationException($"the job did not succeed with a measurable steady state; last status: {last}{Environment.NewLine}coordinator:{Environment.NewLine}{Coordinator.Output}");
        }

        var cpu = cpuAtEnd!.Zip(cpuAtStart!, (after, before) => (after.Name, after.Cpu - before.Cpu)).ToList();
        return new SteadyState(to.Step - from.Step, Stopwatch.GetElapsedTime(from.Ticks, to.Ticks), cpu);
    }

    public async ValueTask DisposeAsync()
    {
        await StopWorkersAsync();
        await Coordinator.DisposeAsync();
        await Registry.DisposeAsync();
        await Data.DisposeAsync();
        await Infrastructure.DisposeAsync();
    }

    public async Task StopWorkersAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        _workers.Clear();
    }

    private static Task<TrainingServer> StartCoordinatorAsync(ServiceInfrastructure infrastructure, DataServer data, RegistryServer registry, int threads) =>
        TrainingServer.StartCoordinatorAsync(infrastructure, data, registry, stragglerTimeoutSeconds: 30,
            overrides: new Dictionary<string, string?>(ExperimentEnvironment.From(TrainingEnvironment))
            {
                ["Torch__IntraOpThreads"] = Invariant(threads),
                // Each step's optimizer update (LedJob's debug line), for CoordinatorUpdate.
                ["Logging__LogLevel__MsSwift.Training.Jobs.LedJob"] = "Debug",
            });

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
