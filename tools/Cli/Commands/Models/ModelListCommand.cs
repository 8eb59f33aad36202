using MsSwift.Cli.Infrastructure;
using Spectre.Console;
using MsSwift.Contracts.Registry.V1;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands.Models;

/// <summary><c>msswift models list</c>: every model and version in the registry.</summary>
internal sealed class ModelListCommand(CliEnvironment environment) : GatewayCommand<GatewaySettings>(environment)
{
    protected override string Describe(GatewaySettings settings) => "list models";

    protected override async Task<int> RunAsync(GatewayClient gateway, GatewaySettings settings, CancellationToken cancellationToken)
    {
        var models = await gateway.Registry.ListModelsAsync(new ListModelsRequest(), cancellationToken: cancellationToken);
        if (settings.Json)
        {
            Environment.WriteRawLine(CliJson.Format(models));
        }
        else if (models.Models.Count == 0)
        {
            Environment.Console.MarkupLine("No models registered. Train one: [bold]msswift train --dataset NAME[/]");
        }
        else
        {
            Environment.Console.Write(ModelTable.Of(models.Models));
        }

        return ExitCodes.Success;
    }
}

internal class ModelSettings : GatewaySettings
{
    [CommandArgument(0, "<MODEL>")]
    public string Model { get; set; } = "";

    public override ValidationResult Validate() => NameRules.Check((Model, "the model"));
}

/// <summary><c>msswift models show MODEL</c>: one model's versions, stages, canary and production history.</summary>
internal sealed class ModelShowCommand(CliEnvironment environment) : GatewayCommand<ModelSettings>(environment)
{
    protected override string Describe(ModelSettings settings) => $"show model '{settings.Model}'";

    protected override async Task<int> RunAsync(GatewayClient gateway, ModelSettings settings, CancellationToken cancellationToken)
    {
        var model = await gateway.Registry.GetModelAsync(new GetModelRequest { Model = settings.Model }, cancellationToken: cancellationToken);
        ModelOutput.Write(Environment, settings, model);
        return ExitCodes.Success;
    }
}

/// <summary>How a command that returns one model prints it.</summary>
internal static class ModelOutput
{
    public static void Write(CliEnvironment environment, GatewaySettings settings, RegisteredModel model)
    {
        if (settings.Json)
        {
            environment.WriteRawLine(CliJson.Format(model));
            return;
        }

        environment.Console.Write(ModelTable.Of([model]));
        if (model.ProductionHistory.Count > 0)
        {
            environment.Console.MarkupLine("[grey]earlier production versions (rollback returns to the last): {0}[/]",
                Markup.Escape(string.Join(", ", model.ProductionHistory)));
        }
    }
}
