using System.Globalization;
using System.Net;
using System.Text;
using Grpc.Core;
using MsSwift.Contracts;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.Training.V1;
using MsSwift.Contracts.V1;
using MsSwift.Training.Data;
using Xunit.Abstractions;

namespace MsSwift.Training.Tests;

/// <summary>
/// ModelService.Train end to end with real processes: the data service, the registry, the
/// training coordinator and two worker processes, on real Redis and broker.
/// </summary>
public sealed partial class TrainJobTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServiceInfrastructure _infrastructure = null!;
    private DataServer _data = null!;
    private RegistryServer _registry = null!;
    private TrainingServer _coordinator = null!;
    private readonly List<TrainingServer> _workers = [];

    public async Task InitializeAsync()
    {
        // A set-up that throws is not disposed by xunit; ChildProcess stops what started when the run ends.
        _infrastructure = await ServiceInfrastructure.StartAsync();
        _data = await DataServer.StartReadyAsync(_infrastructure, []);
        _registry = await RegistryServer.StartReadyAsync(_infrastructure);
        _coordinator = await TrainingServer.StartCoordinatorAsync(_infrastructure, _data, _registry, stragglerTimeoutSeconds: 3);
        _workers.Add(await TrainingServer.StartWorkerAsync(_infrastructure, _data, _coordinator));
        _workers.Add(await TrainingServer.StartWorkerAsync(_infrastructure, _data, _coordinator));
        using var http = new HttpClient { BaseAddress = _data.HttpAddress };
        var text = string.Join("\n\n", Enumerable.Range(0, 400).Select(i => $"the {i % 9} quick brown foxes jump over {i} lazy dogs"));
        var created = await http.PostAsync("/datasets/foxes", new StringContent(text, Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        _workers.Clear();
        foreach (var process in new ServiceProcess?[] { _coordinator, _registry, _data })
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
    public async Task A_job_survives_a_killed_worker_streams_its_progress_to_a_reattached_client_and_registers_its_model()
    {
        var statuses = new List<TrainStatus>();
        string jobId;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using (var first = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token))
        {
            // Two sequential micro-batches per worker per step: the parameter server refuses a
            // gradient over any other number of tokens, so the job only advances if workers honour it.
            var request = Request(steps: 12);
            request.AccumulationSteps = 2;
            request.Sampling = WindowSampling.Sequential;
            using var call = _coordinator.Client.Train(request, cancellationToken: first.Token);
            await call.ResponseStream.MoveNext(first.Token);
            jobId = call.ResponseStream.Current.JobId;
            try
            {
                while (await call.ResponseStream.MoveNext(first.Token) && call.ResponseStream.Current.Step < 3)
                {
                    statuses.Add(call.ResponseStream.Current);
                }
            }
            catch (RpcException) when (deadline.IsCancellationRequested)
            {
                Assert.Fail($"no progress; last status: {statuses.LastOrDefault()}{Environment.NewLine}coordinator:{Environment.NewLine}{_coordinator.Output}{Environment.NewLine}worker:{Environment.NewLine}{_workers[0].Output}");
            }

            // The client goes away and a worker dies: the job must go on without either.
            await first.CancelAsync();
        }

        _workers[1].Kill();
        using var reattached = _coordinator.Client.Train(new TrainRequest { JobId = jobId }, cancellationToken: deadline.Token);
        try
        {
            await foreach (var status in reattached.ResponseStream.ReadAllAsync(deadline.Token))
            {
                statuses.Add(status);
            }
        }
        catch (RpcException) when (deadline.IsCancellationRequested)
        {
            Assert.Fail($"the job did not end in time; last status: {statuses.LastOrDefault()}{Environment.NewLine}coordinator:{Environment.NewLine}{_coordinator.Output}{Environment.NewLine}worker:{Environment.NewLine}{_workers[0].Output}");
        }

        var final = statuses[^1];
        output.WriteLine(string.Join(Environment.NewLine, statuses.Select(status => $"{status.State} step {status.Step} loss {status.Loss:F3} workers {status.Workers} {status.TokensPerSecond:F0} tok/s {status.Message}")));
        Assert.Equal(TrainState.Succeeded, final.State);
        Assert.Equal(12, final.Step);
        Assert.Contains(statuses, status => status.Workers == 2);
        Assert.Contains(statuses, status => status.Workers == 1 && status.Message.Contains("dropped stragglers", StringComparison.Ordinal));
        Assert.True(statuses.Zip(statuses.Skip(1)).All(pair => pair.Second.Step >= pair.First.Step), "steps went backwards");
        Assert.True(final.Loss < statuses.First(status => status.Step > 0).Loss, "the loss should fall");
        // Validation loss every 4 steps (the checkpoint interval) and at the end, and its checkpoints as they are made.
        Assert.Equal(12, final.EvalStep);
        Assert.InRange(final.EvalLoss, 0.1, 10);
        Assert.Contains(statuses, status => status.EvalStep is 4 or 8 && status.State == TrainState.Running);
        // The stream shows changes as it polls and can miss a checkpoint superseded within a poll;
        // the events carry every one, in order.
        Assert.Contains(TrainingEvents(jobId, TrainingEventType.Succeeded), trainingEvent => trainingEvent.Type == TrainingEventType.Checkpointed
            && trainingEvent.Status.LastCheckpoint.Contains("step-00000004", StringComparison.Ordinal) && trainingEvent.Status.State == TrainState.Running);
        Assert.Equal(0, final.Tokens % (2 * 4 * 32));
        var model = await _registry.Reader.GetModelAsync(new GetModelRequest { Model = "foxes" });
        var version = Assert.Single(model.Versions);
        Assert.Equal(final.RegisteredVersion, version.Version);
        Assert.Equal(final.LastCheckpoint, version.Checkpoint);
        Assert.Equal(jobId, version.SourceJob);
        Assert.False(string.IsNullOrEmpty(version.DatasetHash));
        Assert.Equal(final.EvalLoss, version.Metrics["eval_loss"]);

        // The coordinator's Prometheus metrics for the job: the last step's loss and the last
        // evaluation's, every step and token, and a step time for every step but the first.
        using var http = new HttpClient { BaseAddress = _coordinator.HttpAddress, Timeout = TimeSpan.FromSeconds(10) };
        var scraped = await http.GetStringAsync("/metrics");
        output.WriteLine(string.Join(Environment.NewLine, scraped.Split('\n').Where(line => line.Contains("msswift_training_", StringComparison.Ordinal) && !line.Contains("_bucket", StringComparison.Ordinal))));
        Assert.Equal(final.Loss, Sample(scraped, "msswift_training_loss", jobId), 1e-9);
        Assert.Equal(final.EvalLoss, Sample(scraped, "msswift_training_eval_loss", jobId), 1e-9);
        Assert.Equal(12, Sample(scraped, "msswift_training_steps_total", jobId));
        Assert.Equal(final.Tokens, Sample(scraped, "msswift_training_tokens_total", jobId));
        Assert.Equal(11, Sample(scraped, "msswift_training_step_duration_seconds_count", jobId));
        Assert.InRange(Sample(scraped, "msswift_training_step_duration_seconds_sum", jobId), 1e-3, 60);
        // Buckets in seconds, not the exporter's default millisecond-sized ones (0, 5, 10, 25, ...).
        var buckets = scraped.Split('\n').Where(line => line.StartsWith("msswift_training_step_duration_seconds_bucket{", StringComparison.Ordinal) && line.Contains($"job_id=\"{jobId}\"", StringComparison.Ordinal))
            .Select(line => line.Split("le=\"")[1].Split('"')[0]);
        Assert.Equal(["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "+Inf"], buckets);

        var events = TrainingEvents(jobId, TrainingEventType.Succeeded);
        output.WriteLine(string.Join(", ", events.Select(trainingEvent => $"{trainingEvent.Type}@{trainingEvent.Status.Step}")));
        var types = events.Select(trainingEvent => trainingEvent.Type).ToList();
        Assert.Equal([TrainingEventType.Created, TrainingEventType.Running], types.Take(2));
        Assert.Equal(TrainingEventType.Succeeded, types[^1]);
        Assert.Equal(3, types.Count(type => type == TrainingEventType.Checkpointed));
        Assert.Equal(3, types.Count(type => type == TrainingEventType.Evaluated));
        Assert.Contains(TrainingEventType.WorkersDropped, types);
        Assert.All(events, trainingEvent => Assert.Equal(jobId, trainingEvent.Status.JobId));
        Assert.True(events.Zip(events.Skip(1)).All(pair => pair.Second.Status.Step >= pair.First.Status.Step), "events out of order");
    }

    [Fact]
    public async Task A_killed_coordinator_is_replaced_and_the_job_resumes_from_its_checkpoint_and_completes()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var request = Request(steps: 30);
        request.Precision = TrainPrecision.Bf16Mixed;
        var started = await FirstStatusAsync(request);
        using (var progress = _coordinator.Client.Train(new TrainRequest { JobId = started.JobId }, cancellationToken: deadline.Token))
        {
            while (await progress.ResponseStream.MoveNext(deadline.Token) && progress.ResponseStream.Current.Step < 9)
            {
            }
        }

        var port = _coordinator.GrpcPort;
        _coordinator.Kill();
        await _coordinator.DisposeAsync();
        _coordinator = await TrainingServer.StartCoordinatorAsync(_infrastructure, _data, _registry, stragglerTimeoutSeconds: 3, grpcPort: port);
        var statuses = new List<TrainStatus>();
        using var reattached = _coordinator.Client.Train(new TrainRequest { JobId = started.JobId }, cancellationToken: deadline.Token);
        await foreach (var status in reattached.ResponseStream.ReadAllAsync(deadline.Token))
        {
            statuses.Add(status);
        }

        output.WriteLine(string.Join(Environment.NewLine, statuses.Select(status => $"{status.State} step {status.Step} loss {status.Loss:F3} {status.Message}")));
        Assert.Equal(TrainState.Succeeded, statuses[^1].State);
        Assert.Equal(30, statuses[^1].Step);
        // The takeover shows as Restarting at the checkpoint's step, then "resumed at step N" once
        // led again; a stream attached late may see only the first (members joining replace the message).
        var resumedMessages = statuses.Where(status => status.Message.StartsWith("resumed at step", StringComparison.Ordinal)).Select(status => status.Message).Distinct().ToList();
        Assert.True(resumedMessages.Count <= 1, string.Join("; ", resumedMessages));
        var resumedStep = resumedMessages.Count == 1
            ? int.Parse(resumedMessages[0].Split(' ')[3], System.Globalization.CultureInfo.InvariantCulture)
            : (int)Assert.Single(statuses.Where(status => status.State == TrainState.Restarting).Select(status => status.Step).Distinct());
        // Checkpoints every 4 steps: the job resumed from one of them, past the start. Step 8's
        // may still be uploading when step 9 is reported (checkpoints are written beside the
        // steps), so the last committed one can be step 4's.
        Assert.True(resumedStep >= 4 && resumedStep % 4 == 0, $"resumed at step {resumedStep}");
        // The successor appended to the same loss history: every step once (the re-run ones
        // replaced), and the evaluations it ran after resuming.
        using var http = new HttpClient { BaseAddress = _coordinator.HttpAddress, Timeout = TimeSpan.FromSeconds(10) };
        var history = await HistoryAsync(http, started.JobId);
        Assert.Equal(Enumerable.Range(1, 30).Select(step => (long)step), history.Loss.Select(point => point.Step));
        Assert.Equal(statuses[^1].Loss, history.Loss[^1].Loss);
        Assert.Equal(
            Enumerable.Range(resumedStep + 1, 30 - resumedStep).Where(step => step % 4 == 0 || step == 30).Select(step => (long)step),
            history.EvalLoss.Select(point => point.Step).Where(step => step > resumedStep));
        var types = TrainingEvents(started.JobId, TrainingEventType.Succeeded).Select(trainingEvent => trainingEvent.Type).ToList();
        var restarting = types.IndexOf(TrainingEventType.Restarting);
        Assert.True(restarting > 0, string.Join(", ", types));
        Assert.Equal(TrainingEventType.Running, types[restarting + 1]);
    }

    [Fact]
    public async Task Invalid_requests_are_refused_before_anything_starts_and_a_job_can_be_cancelled()
    {
        var unknown = await Assert.ThrowsAsync<RpcException>(() => FirstStatusAsync(new TrainRequest { Dataset = "nothing", Workers = 1 }));
        var zeroWorkers = await Assert.ThrowsAsync<RpcException>(() => FirstStatusAsync(new TrainRequest { Dataset = "foxes", Workers = 0 }));
        var badShape = await Assert.ThrowsAsync<RpcException>(() => FirstStatusAsync(new TrainRequest
        {
            Dataset = "foxes", Workers = 1, Shape = new ModelShape { Width = 30, Heads = 4 }, LearningRate = 5,
            AccumulationSteps = 65, EvalBatches = 300,
        }));
        var started = await FirstStatusAsync(Request(steps: 100_000));
        // Cancelled through a coordinator that does not lead the job: the leader ends it.
        await using var other = await TrainingServer.StartCoordinatorAsync(_infrastructure, _data, _registry, stragglerTimeoutSeconds: 3);
        var cancelled = await other.Client.CancelTrainAsync(new CancelTrainRequest { JobId = started.JobId });
        var again = await Assert.ThrowsAsync<RpcException>(() => _coordinator.Client.CancelTrainAsync(new CancelTrainRequest { JobId = started.JobId }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Contains("dataset", Violations(unknown));
        Assert.Equal(StatusCode.InvalidArgument, zeroWorkers.StatusCode);
        Assert.Contains("workers", Violations(zeroWorkers));
        Assert.Equal(["accumulation_steps", "eval_batches", "learning_rate", "shape.heads"], Violations(badShape).Order());
        Assert.Equal(TrainState.Cancelled, cancelled.State);
        Assert.Equal(TrainingEventType.Cancelled, TrainingEvents(started.JobId, TrainingEventType.Cancelled)[^1].Type);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
    }

    [Fact]
    public async Task A_coordinator_refuses_jobs_over_its_parameter_and_memory_caps_and_beyond_its_job_cap()
    {
        await using var capped = await TrainingServer.StartCoordinatorAsync(_infrastructure, _data, _registry, stragglerTimeoutSeconds: 3, overrides: new Dictionary<string, string?>
        {
            ["Training__MaxModelParameters"] = "100000",
            ["Training__MaxJobMemoryMiB"] = "64",
            ["Training__MaxConcurrentJobs"] = "1",
        });
        var tooLarge = Request(steps: 10);
        tooLarge.Shape = new ModelShape { Layers = 2, Heads = 4, Width = 128, ContextLength = 64 };
        // A small model, but 1024 rows of 64 tokens per micro-batch: ~430 MB of activations.
        var tooHungry = Request(steps: 10);
        tooHungry.BatchSize = 1024;
        tooHungry.Window = 64;

        var parameters = await Assert.ThrowsAsync<RpcException>(() => FirstStatusAsync(capped, tooLarge));
        var memory = await Assert.ThrowsAsync<RpcException>(() => FirstStatusAsync(capped, tooHungry));
        var first = await FirstStatusAsync(capped, Request(steps: 100_000));
        var second = await Assert.ThrowsAsync<RpcException>(() => FirstStatusAsync(capped, Request(steps: 100_000)));
        var cancelled = await capped.Client.CancelTrainAsync(new CancelTrainRequest { JobId = first.JobId });
        var afterCancel = await FirstStatusAsync(capped, Request(steps: 100_000));
        await capped.Client.CancelTrainAsync(new CancelTrainRequest { JobId = afterCancel.JobId });

        Assert.Equal(StatusCode.InvalidArgument, parameters.StatusCode);
        var shape = Assert.Single(Refusals(parameters));
        Assert.Equal("shape", shape.Field);
        Assert.StartsWith("the model would have 437760 parameters; this coordinator trains at most 100000 (Training:MaxModelParameters)", shape.Description);
        Assert.Equal(StatusCode.InvalidArgument, memory.StatusCode);
        var batch = Assert.Single(Refusals(memory));
        Assert.Equal("batch_size", batch.Field);
        Assert.Matches(@"^the job needs an estimated \d+ MiB in its largest process; this coordinator allows 64 MiB per job \(Training:MaxJobMemoryMiB\)", batch.Description);
        Assert.Equal(StatusCode.ResourceExhausted, second.StatusCode);
        Assert.Contains("already runs 1 jobs (Training:MaxConcurrentJobs)", second.Status.Detail);
        Assert.Equal(TrainState.Cancelled, cancelled.State);
        Assert.False(string.IsNullOrEmpty(afterCancel.JobId));

        static IList<Google.Rpc.BadRequest.Types.FieldViolation> Refusals(RpcException refused) =>
            refused.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations;
    }

    [Fact]
    public async Task A_workers_step_reads_its_own_sequential_windows_or_seeded_random_ones()
    {
        var sequential = Request(steps: 10);
        sequential.AccumulationSteps = 2;
        sequential.Sampling = WindowSampling.Sequential;
        var random = sequential.Clone();
        random.Sampling = WindowSampling.Random;
        using var onePass = _data.Client.StreamBatches(new BatchRequest { Name = "foxes", Shard = 1, ShardCount = 2, BatchSize = 4, Window = 32 });
        var shardWindows = (await onePass.ResponseStream.ReadAllAsync().ToListAsync()).SelectMany(Rows).ToList();

        var stepThree = Rows(await TrainingBatches.ForStepAsync(_data.Client, sequential, slot: 1, step: 3, CancellationToken.None));
        var randomOnce = Rows(await TrainingBatches.ForStepAsync(_data.Client, random, slot: 1, step: 3, CancellationToken.None));
        var randomAgain = Rows(await TrainingBatches.ForStepAsync(_data.Client, random, slot: 1, step: 3, CancellationToken.None));

        // Step 3 with two micro-batches of 4: windows 24-31 of the shard, in order.
        Assert.Equal(shardWindows.Skip(24).Take(8), stepThree);
        Assert.Equal(randomOnce, randomAgain);
        Assert.NotEqual(stepThree, randomOnce);
    }

    private static IEnumerable<string> Rows(TokenBatchMessage batch) =>
        Enumerable.Range(0, batch.Rows).Select(row => string.Join(',', batch.Tokens.Skip(row * batch.Columns).Take(batch.Columns)));

    private static List<string> Rows(List<MsSwift.Modeling.Training.TokenBatch> microBatches)
    {
        var rows = microBatches.SelectMany(batch =>
        {
            var windows = TorchSharp.torch.cat([batch.Inputs, batch.Targets.narrow(1, batch.Targets.shape[1] - 1, 1)], 1);
            var values = windows.data<long>().ToArray();
            return Enumerable.Range(0, (int)windows.shape[0]).Select(row => string.Join(',', values.Skip(row * (int)windows.shape[1]).Take((int)windows.shape[1])));
        }).ToList();
        microBatches.ForEach(batch => batch.Dispose());
        return rows;
    }

    private static TrainRequest Request(int steps) => new()
    {
        Dataset = "foxes", Workers = 2, Steps = steps, BatchSize = 4, Window = 32, CheckpointEvery = 4,
        LearningRate = 3e-3, WireFormat = WireFormat.Fp16, Seed = 7,
        Shape = new ModelShape { Layers = 1, Heads = 2, Width = 32, ContextLength = 64 },
    };

    /// <summary>The job's events on msswift.training.events, in order, up to the first of type <paramref name="last"/>.</summary>
    private List<TrainingEvent> TrainingEvents(string jobId, TrainingEventType last) =>
        _infrastructure.Kafka.ReadMessages(KafkaTopics.TrainingEvents, jobId, messages => messages.Count > 0 && TrainingEvent.Parser.ParseFrom(messages[^1].Value).Type == last, TimeSpan.FromSeconds(20))
            .Select(message => TrainingEvent.Parser.ParseFrom(message.Value)).ToList();

    private Task<TrainStatus> FirstStatusAsync(TrainRequest request) => FirstStatusAsync(_coordinator, request);

    private static async Task<TrainStatus> FirstStatusAsync(TrainingServer coordinator, TrainRequest request)
    {
        using var call = coordinator.Client.Train(request);
        Assert.True(await call.ResponseStream.MoveNext());
        return call.ResponseStream.Current;
    }

    /// <summary>The value of the one sample of <paramref name="name"/> labelled with the job, in Prometheus text.</summary>
    private static double Sample(string prometheusText, string name, string jobId)
    {
        var line = Assert.Single(prometheusText.Split('\n'), candidate => candidate.StartsWith(name + "{", StringComparison.Ordinal) && candidate.Contains($"job_id=\"{jobId}\"", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private static List<string> Violations(RpcException error) =>
        error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(violation => violation.Field).ToList();
}
