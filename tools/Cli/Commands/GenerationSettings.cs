using System.ComponentModel;
using MsSwift.Cli.Infrastructure;
using MsSwift.Contracts.V1;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands;

/// <summary>The model to ask and how to generate: shared by predict and chat. Unset options take the server's defaults.</summary>
internal class GenerationSettings : GatewaySettings
{
    [CommandOption("-m|--model <NAME>")]
    [Description("The registry model (default: the inference service's default model, demo)")]
    public string? Model { get; set; }

    [CommandOption("--model-version <VERSION>")]
    [Description("A version of the model (default: its production version, or the canary the gateway draws)")]
    public string? ModelVersion { get; set; }

    [CommandOption("-n|--max-tokens <N>")]
    [Description("Most tokens to generate, 1-4096 (default 64)")]
    public int? MaxTokens { get; set; }

    [CommandOption("-t|--temperature <T>")]
    [Description("0 is greedy (the default); up to 10")]
    public double? Temperature { get; set; }

    [CommandOption("--top-k <K>")]
    [Description("Sample among the K likeliest tokens (0: off)")]
    public int? TopK { get; set; }

    [CommandOption("--top-p <P>")]
    [Description("Nucleus sampling: sample among the likeliest tokens whose probabilities add up to P, 0 < P <= 1 (1: off)")]
    public double? TopP { get; set; }

    [CommandOption("--stop <TEXT>")]
    [Description("End generation at this text (repeatable); it is not printed")]
    public string[] Stop { get; set; } = [];

    [CommandOption("--seed <N>")]
    [Description("Same seed, prompt and options: same answer")]
    public long? Seed { get; set; }

    public override Spectre.Console.ValidationResult Validate() => NameRules.Check((Model, "the model"), (ModelVersion, "the version"));

    public GenerationParameters ToParameters()
    {
        var parameters = new GenerationParameters
        {
            MaxNewTokens = MaxTokens,
            Temperature = Temperature ?? 0,
            TopK = TopK ?? 0,
            TopP = TopP,
            Seed = Seed,
        };
        parameters.Stop.Add(Stop);
        return parameters;
    }
}
