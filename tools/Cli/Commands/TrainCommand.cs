using System.ComponentModel;
using MsSwift.Cli.Infrastructure;
using MsSwift.Cli.Training;
using MsSwift.Contracts.Training.V1;
using MsSwift.Contracts.V1;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands;

internal sealed class TrainSettings : GatewaySettings
{
    [CommandOption("-d|--dataset <NAME>")]
    [Description("The dataset to train on (required; see msswift datasets list)")]
    public string Dataset { get; set; } = "";

    [CommandOption("-m|--model <NAME>")]
    [Description("The registry model the result becomes a version of (default: the dataset's name; with --init-from, that model)")]
    public string? Model { get; set; }

    [CommandOption("--init-from <MODEL[:VERSION]>")]
    [Description("Fine-tune: start from this registered version's weights (no VERSION: the production one); the shape and tokenizer come from it, and the result becomes a new version of MODEL with VERSION as its parent")]
    public string? InitFrom { get; set; }

    [CommandOption("-w|--workers <N>")]
    [Description("Data-parallel workers, 1-64 (default 1); the job waits until that many worker processes join")]
    public int Workers { get; set; } = 1;

    [CommandOption("--steps <N>")]
    [Description("Optimizer steps (default 100)")]
    public int? Steps { get; set; }

    [CommandOption("--batch-size <N>")]
    [Description("Rows per worker per step (default 8)")]
    public int? BatchSize { get; set; }

    [CommandOption("--window <N>")]
    [Description("Tokens per row (default 64)")]
    public int? Window { get; set; }

    [CommandOption("--learning-rate <LR>")]
    [Description("Peak learning rate (default 3e-4)")]
    public double? LearningRate { get; set; }

    [CommandOption("--eval-every <N>")]
    [Description("Validation loss every N steps (default: --checkpoint-every)")]
    public int? EvalEvery { get; set; }

    [CommandOption("--checkpoint-every <N>")]
    [Description("Checkpoint every N steps (default 50)")]
    public int? CheckpointEvery { get; set; }

    [CommandOption("--layers <N>")]
    public int? Layers { get; set; }

    [CommandOption("--heads <N>")]
    public int? Heads { get; set; }

    [CommandOption("--width <N>")]
    public int? Width { get; set; }

    [CommandOption("--context <N>")]
    [Description("Context length of the model (default 256)")]
    public int? Context { get; set; }

    [CommandOption("--seed <N>")]
    public long? Seed { get; set; }

    [CommandOption("--bf16")]
    [Description("bf16 mixed precision on the workers (fp32 master weights)")]
    public bool Bf16 { get; set; }

    [CommandOption("--detach")]
    [Description("Start the job and return at once (follow it later with msswift jobs attach)")]
    public bool Detach { get; set; }

    public override ValidationResult Validate() =>
        Dataset.Length == 0 ? ValidationResult.Error("--dataset is required: the dataset to train on (see msswift datasets list)")
        : NameRules.Check((Dataset, "the dataset"), (Model, "the model"), (InitFromModel, "the --init-from model"), (InitFromVersion, "the --init-from version"));

    // MODEL[:VERSION]; names cannot hold ':', so the first one splits them.
    private string? InitFromModel => InitFrom?.Split(':', 2)[0];

    private string? InitFromVersion => InitFrom?.Split(':', 2) is [_, var version] ? version : null;

    public TrainRequest ToRequest()
    {
        var request = new TrainRequest
        {
            Dataset = Dataset,
            Model = Model ?? "",
            Workers = Workers,
            Steps = Steps ?? 0,
            BatchSize = BatchSize ?? 0,
            Window = Window ?? 0,
            LearningRate = LearningRate ?? 0,
            EvalEvery = EvalEvery ?? 0,
            CheckpointEvery = CheckpointEvery ?? 0,
            Seed = Seed ?? 0,
            Precision = Bf16 ? TrainPrecision.Bf16Mixed : TrainPrecision.Fp32,
            WireFormat = WireFormat.Fp16,
        };
        if (InitFromModel is { } model)
        {
            request.InitFrom = new ModelVersionRef { Model = model, Version = InitFromVersion ?? "" };
        }

        if (Layers is not null || Heads is not null || Width is not null || Context is not null)
        {
            request.Shape = new ModelShape { Layers = Layers ?? 0, Heads = Heads ?? 0, Width = Width ?? 0, ContextLength = Context ?? 0 };
        }

        return request;
    }
}

/// <summary><c>msswift train</c>: starts a job through the gateway's Train stream and follows it until it ends or Ctrl+C detaches.</summary>
internal sealed class TrainCommand(CliEnvironment environment) : GatewayCommand<TrainSettings>(environment)
{
    // TrainRequest's documented default.
    public const int DefaultSteps = 100;

    protected override string Describe(TrainSettings settings) => $"train on dataset '{settings.Dataset}'";

    protected override async Task<int> RunAsync(GatewayClient gateway, TrainSettings settings, CancellationToken cancellationToken)
    {
        var request = settings.ToRequest();
        using var call = gateway.Models.Train(request, cancellationToken: cancellationToken);
        if (settings.Detach)
        {
            // The first status means the coordinator accepted and started the job.
            if (!await call.ResponseStream.MoveNext(cancellationToken))
            {
                throw new CliException("the Train stream ended before the job started; retry");
            }

            var started = call.ResponseStream.Current;
            if (settings.Json)
            {
                Environment.WriteRawLine(CliJson.Format(started));
            }
            else
            {
                Environment.Console.MarkupLine("Started job [bold]{0}[/]. Follow it: [bold]msswift jobs attach {0}[/]", started.JobId);
            }

            return ExitCodes.Success;
        }

        return await new TrainWatch(Environment, settings.Json).FollowAsync(call, null, request.Steps > 0 ? request.Steps : DefaultSteps, cancellationToken);
    }
}
