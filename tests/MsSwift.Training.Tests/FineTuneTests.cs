using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.Training.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Training;
using MsSwift.Testing;
using MsSwift.Training.Data;
using MsSwift.Training.Jobs;
using Xunit.Abstractions;

namespace MsSwift.Training.Tests;

/// <summary>
/// Fine-tuning end to end with real processes (data service, registry, coordinator, a worker on
/// real Redis and broker): a model trained on Shakespeare is fine-tuned on a second corpus of a
/// different distribution, and what the coordinator refuses to start from.
/// </summary>
public sealed class FineTuneTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServiceInfrastructure _infrastructure = null!;
    private DataServer _data = null!;
    private RegistryServer _registry = null!;
    private TrainingServer _coordinator = null!;

    public async Task InitializeAsync()
    {
        // A set-up that throws is not disposed by xunit; ChildProcess stops what started when the run ends.
        _infrastructure = await ServiceInfrastructure.StartAsync();
        _data = await DataServer.StartReadyAsync(_infrastructure, []);
        _registry = await RegistryServer.StartReadyAsync(_infrastructure);
        _coordinator = await TrainingServer.StartCoordinatorAsync(_infrastructure, _data, _registry, stragglerTimeoutSeconds: 3);
        var shakespeare = await File.ReadAllTextAsync(Path.Combine(ProcessRunner.RepositoryRoot, "data", "corpus", "tinyshakespeare.txt"));
        await IngestAsync("bard", shakespeare[..200_000]);
        // Records (blank-line separated, so some fall in the validation split): short sentences of one pattern from a few words: English letters, but nothing like Shakespeare's distribution.
        string[] colours = ["red", "blue", "green", "brown", "white"], animals = ["fox", "dog", "cat", "hen", "cow", "pig", "owl"], verbs = ["sees", "chases", "follows"];
        await IngestAsync("farm", string.Join("\n\n", Enumerable.Range(0, 3000).Select(i => $"the {colours[i % 5]} {animals[i % 7]} {verbs[i % 3]} the {animals[i * 3 % 7]}.")));
    }

    public async Task DisposeAsync()
    {
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
    public async Task A_model_fine_tuned_on_a_second_corpus_beats_its_parent_there_in_few_steps_and_is_registered_as_its_child()
    {
        await using var worker = await TrainingServer.StartWorkerAsync(_infrastructure, _data, _coordinator);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var parent = await LastStatusAsync(Request("bard", steps: 60, shape: new ModelShape { Layers = 1, Heads = 2, Width = 32, ContextLength = 64 }), deadline.Token);
        Assert.True(parent.State == TrainState.Succeeded, parent.ToString());
        await _registry.Admin.PromoteAsync(new ChangeVersionRequest { Model = "bard", Version = parent.RegisteredVersion });

        // No model, shape or version named: the result goes to bard, shaped as its production version.
        var fineTune = Request("farm", steps: 24, shape: null);
        fineTune.LearningRate = 1e-2;
        fineTune.InitFrom = new ModelVersionRef { Model = "bard" };
        var child = await LastStatusAsync(fineTune, deadline.Token);
        var parentOnFarm = await EvaluateAsync(parent.LastCheckpoint, fineTune);
        using var http = new HttpClient { BaseAddress = _coordinator.HttpAddress, Timeout = TimeSpan.FromSeconds(10) };
        var history = await LossCurves.ReadAsync(http, child.JobId, output.WriteLine);
        var model = await _registry.Reader.GetModelAsync(new GetModelRequest { Model = "bard" });
        output.WriteLine($"parent: eval loss {parent.EvalLoss:F3} on bard, {parentOnFarm:F3} on farm; child: first step's loss {history.Loss[0].Loss:F3}, eval loss {child.EvalLoss:F3} on farm");

        Assert.True(child.State == TrainState.Succeeded, child.ToString());
        Assert.Equal(new ModelVersionRef { Model = "bard", Version = parent.RegisteredVersion }, child.InitFrom);
        Assert.Equal("bard", child.RegisteredModel);
        // The first step's gradient is taken at the parent's weights: its loss is the parent's on
        // this corpus, far below a random model's ln(256) = 5.55.
        Assert.True(parentOnFarm < 0.8 * Math.Log(256), $"the parent is no better than random here ({parentOnFarm}): the test could not tell its weights from random ones");
        Assert.InRange(history.Loss[0].Loss, parentOnFarm - 0.5, parentOnFarm + 0.5);
        Assert.True(child.EvalLoss < parentOnFarm - 0.1, $"fine-tuned {child.EvalLoss} vs parent {parentOnFarm} on the second corpus");
        var parentVersion = model.Versions.Single(version => version.Version == parent.RegisteredVersion);
        var childVersion = model.Versions.Single(version => version.Version == child.RegisteredVersion);
        Assert.NotEqual(parentVersion.Version, childVersion.Version);
        Assert.Equal((parent.RegisteredVersion, child.JobId, child.LastCheckpoint), (childVersion.ParentVersion, childVersion.SourceJob, childVersion.Checkpoint));
        Assert.Equal(parentVersion.ConfigJson, childVersion.ConfigJson);
        Assert.Equal("", parentVersion.ParentVersion);
    }

    [Fact]
    public async Task A_fine_tune_that_cannot_start_from_the_named_version_is_refused_naming_the_field()
    {
        await InferenceServer.WriteCheckpointAsync(_infrastructure.CheckpointDirectory, "tiny/v1/model.safetensors", seed: 1);
        foreach (var version in new[] { "v1", "v2" })
        {
            await _registry.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "tiny", Version = version, Checkpoint = "tiny/v1/model.safetensors" });
        }

        await _registry.Admin.ArchiveAsync(new ChangeVersionRequest { Model = "tiny", Version = "v2" });
        await _registry.Admin.QuantizeVersionAsync(new QuantizeVersionRequest { Model = "tiny", Version = "v1" });
        await IngestAsync("farm-bpe", "the red fox sees the blue dog.\nthe green cat chases the hen.\n", tokenizer: "gpt2");

        var refusals = new Dictionary<string, TrainRequest>
        {
            ["unknown model"] = FineTune("farm", "nobody", "v1"),
            ["unknown version"] = FineTune("farm", "tiny", "v9"),
            ["archived version"] = FineTune("farm", "tiny", "v2"),
            ["an int8 copy"] = FineTune("farm", "tiny", "v1-int8"),
            ["no production version"] = FineTune("farm", "tiny", ""),
            ["another tokenizer"] = FineTune("farm-bpe", "tiny", "v1"),
            ["another shape"] = With(FineTune("farm", "tiny", "v1"), request => request.Shape = new ModelShape { Width = 128 }),
            ["another model"] = With(FineTune("farm", "tiny", "v1"), request => request.Model = "other"),
            ["a malformed name"] = FineTune("farm", "tiny", "../v1"),
        };
        var answers = new Dictionary<string, string>();
        foreach (var (reason, request) in refusals)
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => LastStatusAsync(request, CancellationToken.None));
            output.WriteLine($"{reason}: {refused.StatusCode} {refused.Status.Detail}");
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
            answers[reason] = string.Join(",", refused.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(violation => violation.Field));
        }

        Assert.Equal(new Dictionary<string, string>
        {
            ["unknown model"] = "init_from.model",
            ["unknown version"] = "init_from.version",
            ["archived version"] = "init_from.version",
            ["an int8 copy"] = "init_from.version",
            ["no production version"] = "init_from.version",
            ["another tokenizer"] = "dataset",
            ["another shape"] = "shape",
            ["another model"] = "model",
            ["a malformed name"] = "init_from.version",
        }, answers);
        // Nothing was started or registered for any of them.
        using var http = new HttpClient { BaseAddress = _coordinator.HttpAddress, Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(0, (await http.GetFromJsonAsync<JsonElement>("/training/jobs")).GetProperty("jobs").GetArrayLength());
        Assert.Equal(3, (await _registry.Reader.GetModelAsync(new GetModelRequest { Model = "tiny" })).Versions.Count);

        static TrainRequest FineTune(string dataset, string model, string version) =>
            new() { Dataset = dataset, Workers = 1, Steps = 4, BatchSize = 2, Window = 16, InitFrom = new ModelVersionRef { Model = model, Version = version } };

        static TrainRequest With(TrainRequest request, Action<TrainRequest> change)
        {
            change(request);
            return request;
        }
    }

    [Fact]
    public async Task A_fine_tune_whose_starting_checkpoint_is_gone_fails_once_and_stays_failed()
    {
        await InferenceServer.WriteCheckpointAsync(_infrastructure.CheckpointDirectory, "tiny/gone/model.safetensors", seed: 1);
        await _registry.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "tiny", Version = "v1", Checkpoint = "tiny/gone/model.safetensors" });
        File.Delete(Path.Combine(_infrastructure.CheckpointDirectory, "tiny", "gone", "model.safetensors"));

        var refused = await Assert.ThrowsAsync<RpcException>(() => LastStatusAsync(
            new() { Dataset = "farm", Workers = 1, Steps = 4, BatchSize = 2, Window = 16, InitFrom = new ModelVersionRef { Model = "tiny", Version = "v1" } }, CancellationToken.None));
        // Two passes of the coordinator's recovery (every 2 s) later, the job has not been taken up again.
        await Task.Delay(TimeSpan.FromSeconds(5));
        using var http = new HttpClient { BaseAddress = _coordinator.HttpAddress, Timeout = TimeSpan.FromSeconds(10) };
        var job = Assert.Single((await http.GetFromJsonAsync<JsonElement>("/training/jobs")).GetProperty("jobs").EnumerateArray());

        output.WriteLine(refused.Status.Detail);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("tiny/gone/model.safetensors", refused.Status.Detail);
        Assert.Equal("TRAIN_STATE_FAILED", job.GetProperty("status").GetProperty("state").GetString());
        Assert.Contains("could not start", job.GetProperty("status").GetProperty("message").GetString());
    }

    private static TrainRequest Request(string dataset, int steps, ModelShape? shape) => new()
    {
        Dataset = dataset, Workers = 1, Steps = steps, BatchSize = 8, Window = 32, CheckpointEvery = steps, LearningRate = 3e-3,
        WireFormat = WireFormat.Fp32, Seed = 7, Shape = shape,
    };

    /// <summary>The parent's validation loss on the fine-tune's corpus: its checkpoint on the very batches the fine-tune job evaluates.</summary>
    private async Task<double> EvaluateAsync(string checkpoint, TrainRequest fineTune)
    {
        var (request, _) = TrainRequestDefaults.Apply(fineTune);
        var batches = await TrainingBatches.ValidationAsync(_data.Client, request, CancellationToken.None);
        try
        {
            using var parent = await GptCheckpoint.LoadAsync(new LocalDirectoryCheckpointStore(_infrastructure.CheckpointDirectory), checkpoint, TorchSharp.torch.CPU);
            return GptTrainer.Evaluate(parent.Model, batches).Loss;
        }
        finally
        {
            batches.ForEach(batch => batch.Dispose());
        }
    }

    private async Task<TrainStatus> LastStatusAsync(TrainRequest request, CancellationToken cancellationToken)
    {
        using var call = _coordinator.Client.Train(request, cancellationToken: cancellationToken);
        TrainStatus? last = null;
        await foreach (var status in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            last = status;
        }

        return last ?? throw new InvalidOperationException("the Train stream ended without a status");
    }

    private async Task IngestAsync(string name, string text, string tokenizer = "byte")
    {
        using var http = new HttpClient { BaseAddress = _data.HttpAddress };
        var created = await http.PostAsync($"/datasets/{name}?tokenizer={tokenizer}", new StringContent(text, Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }
}
