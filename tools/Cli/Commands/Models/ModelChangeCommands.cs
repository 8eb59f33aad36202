using System.ComponentModel;
using MsSwift.Cli.Infrastructure;
using MsSwift.Contracts.Registry.V1;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands.Models;

internal class ModelVersionSettings : ModelSettings
{
    [CommandArgument(1, "<VERSION>")]
    public string Version { get; set; } = "";

    public override Spectre.Console.ValidationResult Validate() => NameRules.Check((Model, "the model"), (Version, "the version"));
}

/// <summary>A registry change that answers with the changed model, which is printed as <c>models show</c> would.</summary>
internal abstract class ModelChangeCommand<TSettings>(CliEnvironment environment) : GatewayCommand<TSettings>(environment)
    where TSettings : ModelSettings
{
    protected abstract Task<RegisteredModel> ChangeAsync(ModelRegistryAdmin.ModelRegistryAdminClient admin, TSettings settings, CancellationToken cancellationToken);

    protected sealed override async Task<int> RunAsync(GatewayClient gateway, TSettings settings, CancellationToken cancellationToken)
    {
        ModelOutput.Write(Environment, settings, await ChangeAsync(gateway.RegistryAdmin, settings, cancellationToken));
        return ExitCodes.Success;
    }
}

/// <summary><c>msswift models promote MODEL VERSION</c>: makes the version production; inference switches to it.</summary>
internal sealed class ModelPromoteCommand(CliEnvironment environment) : ModelChangeCommand<ModelVersionSettings>(environment)
{
    protected override string Describe(ModelVersionSettings settings) => $"promote {settings.Model} {settings.Version}";

    protected override async Task<RegisteredModel> ChangeAsync(ModelRegistryAdmin.ModelRegistryAdminClient admin, ModelVersionSettings settings, CancellationToken cancellationToken) =>
        await admin.PromoteAsync(new ChangeVersionRequest { Model = settings.Model, Version = settings.Version }, cancellationToken: cancellationToken);
}

/// <summary><c>msswift models rollback MODEL</c>: returns production to the previous production version.</summary>
internal sealed class ModelRollbackCommand(CliEnvironment environment) : ModelChangeCommand<ModelSettings>(environment)
{
    protected override string Describe(ModelSettings settings) => $"roll back {settings.Model}";

    protected override async Task<RegisteredModel> ChangeAsync(ModelRegistryAdmin.ModelRegistryAdminClient admin, ModelSettings settings, CancellationToken cancellationToken) =>
        await admin.RollBackAsync(new RollBackRequest { Model = settings.Model }, cancellationToken: cancellationToken);
}

internal sealed class ModelCanarySettings : ModelSettings
{
    [CommandArgument(1, "[VERSION]")]
    [Description("The version that gets a share of the traffic (omit with --clear)")]
    public string? Version { get; set; }

    [CommandOption("-p|--percent <PERCENT>")]
    [Description("Its share of requests that name no version, 1-99 (default 10)")]
    public int Percent { get; set; } = 10;

    [CommandOption("--clear")]
    [Description("Remove the canary: production gets all traffic again")]
    public bool Clear { get; set; }

    public override Spectre.Console.ValidationResult Validate()
    {
        var names = NameRules.Check((Model, "the model"), (Version, "the version"));
        return !names.Successful ? names : (Clear, Version) switch
        {
            (true, not null) => Spectre.Console.ValidationResult.Error("give a VERSION or --clear, not both"),
            (false, null) => Spectre.Console.ValidationResult.Error("give the canary VERSION (or --clear to remove the canary)"),
            _ => Spectre.Console.ValidationResult.Success(),
        };
    }
}

/// <summary><c>msswift models canary MODEL VERSION --percent P</c> (or <c>--clear</c>): splits traffic between production and a canary.</summary>
internal sealed class ModelCanaryCommand(CliEnvironment environment) : ModelChangeCommand<ModelCanarySettings>(environment)
{
    protected override string Describe(ModelCanarySettings settings) =>
        settings.Clear ? $"clear the canary of {settings.Model}" : $"set {settings.Model} {settings.Version} as a {settings.Percent}% canary";

    protected override async Task<RegisteredModel> ChangeAsync(ModelRegistryAdmin.ModelRegistryAdminClient admin, ModelCanarySettings settings, CancellationToken cancellationToken) =>
        await admin.SetCanaryAsync(new SetCanaryRequest
        {
            Model = settings.Model,
            Version = settings.Clear ? "" : settings.Version!,
            Percent = settings.Clear ? 0 : settings.Percent,
        }, cancellationToken: cancellationToken);
}

/// <summary><c>msswift models archive MODEL VERSION</c>.</summary>
internal sealed class ModelArchiveCommand(CliEnvironment environment) : ModelChangeCommand<ModelVersionSettings>(environment)
{
    protected override string Describe(ModelVersionSettings settings) => $"archive {settings.Model} {settings.Version}";

    protected override async Task<RegisteredModel> ChangeAsync(ModelRegistryAdmin.ModelRegistryAdminClient admin, ModelVersionSettings settings, CancellationToken cancellationToken) =>
        await admin.ArchiveAsync(new ChangeVersionRequest { Model = settings.Model, Version = settings.Version }, cancellationToken: cancellationToken);
}

/// <summary><c>msswift models delete MODEL VERSION</c>: refused for the production version and the canary.</summary>
internal sealed class ModelDeleteCommand(CliEnvironment environment) : ModelChangeCommand<ModelVersionSettings>(environment)
{
    protected override string Describe(ModelVersionSettings settings) => $"delete {settings.Model} {settings.Version}";

    protected override async Task<RegisteredModel> ChangeAsync(ModelRegistryAdmin.ModelRegistryAdminClient admin, ModelVersionSettings settings, CancellationToken cancellationToken) =>
        await admin.DeleteVersionAsync(new ChangeVersionRequest { Model = settings.Model, Version = settings.Version }, cancellationToken: cancellationToken);
}
