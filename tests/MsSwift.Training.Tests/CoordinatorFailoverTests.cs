using System.Net;
using System.Text;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using Xunit.Abstractions;

namespace MsSwift.Training.Tests;

/// <summary>
/// Any number of coordinators and elastic workers, as real processes on real Redis and broker:
/// two coordinators and three workers; the leader is killed mid-job, a worker is scaled down
/// (SIGTERM) and another added; the job succeeds and is registered once.
/// </summary>
public sealed class CoordinatorFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServiceInfrastructure _infrastructure = null!;
    private DataServer _data = null!;
    private RegistryServer _registry = null!;
    private readonly List<TrainingServer> _coordinators = [];
    private readonly List<TrainingServer> _workers = [];

    public async Task InitializeAsync()
    {
        _infrastructure = await ServiceInfrastructure.StartAsync();
        _data = await DataServer.StartReadyAsync(_infrastructure, []);
        _registry = await RegistryServer.StartReadyAsync(_infrastructure);
        // A long straggler timeout: a worker that leaves cleanly must not cost a step this long.
        for (var i = 0; i < 2; i++)
        {
            _coordinators.Add(await TrainingServer.StartCoordinatorAsync(_infrastructure, _data, _registry, stragglerTimeoutSeconds: 60));
        }

        for (var i = 0; i < 3; i++)
        {
            _workers.Add(await TrainingServer.StartWorkerAsync(_infrastructure, _data, _coordinators[0]));
        }

        using var http = new HttpClient { BaseAddress = _data.HttpAddress };
        var text = string.Join("\n\n", Enumerable.Range(0, 400).Select(i => $"the {i % 9} quick brown foxes jump over {i} lazy dogs"));
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("/datasets/foxes", new StringContent(text, Encoding.UTF8, "text/plain"))).StatusCode);
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _workers.Concat(_coordinators).Cast<ServiceProcess?>().Append(_registry).Append(_data))
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }

        if (_infrastructure is not null)
        {
            await _infrastructure.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_leader_dies_a_worker_scales_down_another_joins_and_the_job_succeeds_registered_once()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var request = new TrainRequest
        {
            Dataset = "foxes", Model = "failover", Workers = 3, MinWorkers = 1, Steps = 40, BatchSize = 2, Window = 16, CheckpointEvery = 4,
            Shape = new ModelShape { Layers = 1, Heads = 2, Width = 32, ContextLength = 32 },
        };
        var statuses = new List<TrainStatus>();
        var leader = _coordinators[0];
        var follower = _coordinators[1];
        using (var call = leader.Client.Train(request, cancellationToken: deadline.Token))
        {
            // Three members and a checkpoint past step 8, then the leader dies.
            await foreach (var status in call.ResponseStream.ReadAllAsync(deadline.Token))
            {
                statuses.Add(status);
                if (status.Members.Count == 3 && status.Step >= 8 && status.LastCheckpoint.Length > 0)
                {
                    break;
                }
            }
        }

        var jobId = statuses[0].JobId;
        var killedAt = statuses[^1].Step;
        leader.Kill();

        // Watched through the survivor, which takes the job over; meanwhile the workers change.
        using var watch = follower.Client.Train(new TrainRequest { JobId = jobId }, cancellationToken: deadline.Token);
        var scaled = false;
        var takenOver = false;
        try
        {
            await foreach (var status in watch.ResponseStream.ReadAllAsync(deadline.Token))
            {
                statuses.Add(status);
                // The watch may first replay the dead leader's last status (three members, a later step):
                // scale only once the survivor leads and all three workers have followed it.
                takenOver |= status.State == TrainState.Restarting;
                if (!scaled && takenOver && status.State == TrainState.Running && status.Members.Count == 3 && status.Step > killedAt + 2)
                {
                    scaled = true;
                    await _workers[0].StopAsync(TimeSpan.FromSeconds(30));
                    _workers.Add(await TrainingServer.StartWorkerAsync(_infrastructure, _data, follower));
                }
            }
        }
        catch (RpcException) when (deadline.IsCancellationRequested)
        {
            Assert.Fail($"the job did not end in time; last status: {statuses[^1]}{Environment.NewLine}survivor:{Environment.NewLine}{follower.Output}{Environment.NewLine}worker:{Environment.NewLine}{_workers[1].Output}");
        }

        output.WriteLine(string.Join(Environment.NewLine, statuses.Select(status => $"{status.State} step {status.Step} members [{string.Join(", ", status.Members)}] {status.Message}")));
        var final = statuses[^1];
        Assert.Equal(TrainState.Succeeded, final.State);
        Assert.Equal(40, final.Step);
        Assert.Contains(statuses, status => status.State == TrainState.Restarting);
        Assert.True(scaled, "the workers never all followed the new leader");
        // The scaled-down worker left cleanly: no step waited out the straggler timeout for it.
        Assert.Contains(statuses, status => status.Message.Contains(" left at step ", StringComparison.Ordinal));
        Assert.DoesNotContain(statuses, status => status.Message.Contains("dropped stragglers", StringComparison.Ordinal));
        Assert.True(statuses.Zip(statuses.Skip(1)).Where(pair => pair.First.State == pair.Second.State).All(pair => pair.Second.Step >= pair.First.Step), "steps went backwards");

        var registry = new ModelRegistry.ModelRegistryClient(_registry.Channel);
        var model = await registry.GetModelAsync(new GetModelRequest { Model = "failover" });
        var fromJob = model.Versions.Where(version => version.SourceJob == jobId).ToList();
        Assert.Single(fromJob);
        Assert.Equal(final.RegisteredVersion, fromJob[0].Version);
    }
}
