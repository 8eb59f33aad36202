using MsSwift.Cli.Commands;
using MsSwift.Cli.Commands.Datasets;
using MsSwift.Cli.Commands.Jobs;
using MsSwift.Cli.Commands.Models;
using MsSwift.Cli.Infrastructure;
using Spectre.Console.Cli;

namespace MsSwift.Cli;

/// <summary>The <c>msswift</c> command tree, with help and examples for each command.</summary>
internal static class CliApp
{
    public static Task<int> RunAsync(string[] args, CliEnvironment environment, CancellationToken interrupt)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("msswift");
            config.SetApplicationVersion(typeof(CliApp).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
            config.Settings.Console = environment.Console;
            config.Settings.Registrar.RegisterInstance(environment);
            config.Settings.CancellationExitCode = ExitCodes.Interrupted;
            // A mistyped option is an error, not an argument silently ignored.
            config.Settings.StrictParsing = true;
            config.SetExceptionHandler((error, _) =>
            {
                // Parse and validation errors: one line, and where to look.
                environment.Error.WriteLine($"msswift: {error.Message.TrimEnd('.')}; see msswift --help");
                return ExitCodes.Usage;
            });
            config.AddExample("predict", "\"ROMEO:\"", "--max-tokens", "80", "--stream");
            config.AddExample("train", "--dataset", "shakespeare", "--workers", "2", "--steps", "300");

            config.AddCommand<PredictCommand>("predict")
                .WithDescription("Complete a prompt with a registered model (gRPC Predict through the gateway)")
                .WithExample("predict", "\"ROMEO:\"")
                .WithExample("predict", "\"To be, or not\"", "--stream", "--temperature", "0.8", "--top-k", "40", "--seed", "7")
                .WithExample("predict", "\"KING:\"", "--model", "shakespeare", "--model-version", "v2", "--json");
            config.AddCommand<ChatCommand>("chat")
                .WithDescription("Talk with a model interactively (OpenAI chat API, history kept); Ctrl+D ends")
                .WithExample("chat", "--system", "\"You are a herald.\"", "--temperature", "0.7");
            config.AddBranch("datasets", datasets =>
            {
                datasets.SetDescription("Ingest and inspect training datasets");
                datasets.AddCommand<DatasetUploadCommand>("upload").WithDescription("Upload and ingest a text or JSON-lines file")
                    .WithExample("datasets", "upload", "data/corpus/tinyshakespeare.txt", "--name", "shakespeare")
                    .WithExample("datasets", "upload", "chats.jsonl", "--tokenizer", "gpt2", "--validation-percent", "5");
                datasets.AddCommand<DatasetListCommand>("list").WithDescription("List datasets (latest versions)").WithExample("datasets", "list");
                datasets.AddCommand<DatasetShowCommand>("show").WithDescription("Show a dataset's ingest report").WithExample("datasets", "show", "shakespeare");
            });
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Train a model on a dataset with a live progress bar; Ctrl+C detaches, the job keeps running")
                .WithExample("train", "--dataset", "shakespeare", "--workers", "2", "--steps", "300")
                .WithExample("train", "--dataset", "shakespeare", "--model", "bard", "--layers", "4", "--width", "256", "--detach")
                .WithExample("train", "--dataset", "sonnets", "--init-from", "demo:v1", "--steps", "50");
            config.AddBranch("jobs", jobs =>
            {
                jobs.SetDescription("Follow, inspect and cancel training jobs");
                jobs.AddCommand<JobListCommand>("list").WithDescription("List the newest jobs").WithExample("jobs", "list");
                jobs.AddCommand<JobShowCommand>("show").WithDescription("Show one job").WithExample("jobs", "show", "JOB");
                jobs.AddCommand<JobAttachCommand>("attach").WithDescription("Follow a job's progress again").WithExample("jobs", "attach", "JOB");
                jobs.AddCommand<JobCancelCommand>("cancel").WithDescription("Cancel a job").WithExample("jobs", "cancel", "JOB");
                jobs.AddCommand<JobPlotCommand>("plot").WithDescription("Write the job's train and eval loss curves as PNG and SVG")
                    .WithExample("jobs", "plot", "JOB", "--output", "plots/loss");
            });
            config.AddBranch("models", models =>
            {
                models.SetDescription("The model registry: versions, stages, canary, rollback");
                models.AddCommand<ModelListCommand>("list").WithDescription("List models and their versions").WithExample("models", "list");
                models.AddCommand<ModelShowCommand>("show").WithDescription("Show one model").WithExample("models", "show", "demo");
                models.AddCommand<ModelPromoteCommand>("promote").WithDescription("Make a version production").WithExample("models", "promote", "shakespeare", "v2");
                models.AddCommand<ModelRollbackCommand>("rollback").WithDescription("Return to the previous production version").WithExample("models", "rollback", "shakespeare");
                models.AddCommand<ModelCanaryCommand>("canary").WithDescription("Send a share of traffic to a version, or --clear")
                    .WithExample("models", "canary", "shakespeare", "v3", "--percent", "20")
                    .WithExample("models", "canary", "shakespeare", "--clear");
                models.AddCommand<ModelArchiveCommand>("archive").WithDescription("Archive a version").WithExample("models", "archive", "shakespeare", "v1");
                models.AddCommand<ModelDeleteCommand>("delete").WithDescription("Delete a version (not production or canary)").WithExample("models", "delete", "shakespeare", "v1");
            });
        });
        return app.RunAsync(args, interrupt);
    }
}
