using System.Globalization;
using MsSwift.Contracts.Registry.V1;
using Spectre.Console;

namespace MsSwift.Cli.Commands.Models;

/// <summary>Registered models as tables: one row per version, production and canary marked, a fine-tuned one with the version it started from.</summary>
internal static class ModelTable
{
    public static Table Of(IEnumerable<RegisteredModel> models)
    {
        var table = new Table().RoundedBorder()
            .AddColumn("model").AddColumn("version").AddColumn("stage").AddColumn("traffic")
            .AddColumn(new TableColumn("train loss").RightAligned()).AddColumn(new TableColumn("eval loss").RightAligned())
            .AddColumn(new TableColumn("size").RightAligned()).AddColumn("source job").AddColumn("parent").AddColumn("created");
        foreach (var model in models)
        {
            foreach (var version in model.Versions)
            {
                table.AddRow(
                    Markup.Escape(model.Name), Markup.Escape(version.Version), Stage(version.Stage), Traffic(model, version.Version),
                    Metric(version, "train_loss"), Metric(version, "eval_loss"), Size(version.SizeBytes),
                    Markup.Escape(version.SourceJob), Markup.Escape(version.ParentVersion), version.CreatedAt?.ToDateTimeOffset().ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "");
            }
        }

        return table;
    }

    /// <summary>Which share of the model's traffic the version gets.</summary>
    private static string Traffic(RegisteredModel model, string version)
    {
        var canary = model.Canary is { Percent: > 0 } set ? set : null;
        if (canary?.Version == version)
        {
            return $"[yellow]canary {canary.Percent}%[/]";
        }

        return model.ProductionVersion == version ? $"[green]{100 - (canary?.Percent ?? 0)}%[/]" : "";
    }

    private static string Stage(Stage stage) => stage switch
    {
        Contracts.Registry.V1.Stage.Production => "[green]production[/]",
        Contracts.Registry.V1.Stage.Staging => "staging",
        Contracts.Registry.V1.Stage.Archived => "[grey]archived[/]",
        _ => "none",
    };

    private static string Metric(ModelVersion version, string name) =>
        version.Metrics.TryGetValue(name, out var value) ? value.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string Size(long bytes) =>
        bytes >= 1 << 20 ? $"{bytes / (double)(1 << 20):F1} MiB" : $"{bytes / 1024.0:F1} KiB";
}
