using System.Globalization;
using MsSwift.Contracts.Data.V1;
using Spectre.Console;

namespace MsSwift.Cli.Commands.Datasets;

/// <summary>Datasets as a table: one row per dataset version.</summary>
internal static class DatasetTable
{
    public static Table Of(IEnumerable<DatasetInfo> datasets)
    {
        var table = new Table().RoundedBorder()
            .AddColumn("dataset").AddColumn("version").AddColumn("tokenizer")
            .AddColumn(new TableColumn("documents").RightAligned()).AddColumn(new TableColumn("train tokens").RightAligned())
            .AddColumn(new TableColumn("validation tokens").RightAligned()).AddColumn(new TableColumn("duplicates").RightAligned())
            .AddColumn(new TableColumn("malformed").RightAligned());
        foreach (var dataset in datasets)
        {
            table.AddRow(
                Markup.Escape(dataset.Name), Markup.Escape(dataset.Version), Markup.Escape(dataset.Tokenizer),
                Number(dataset.Documents), Number(dataset.TrainTokens), Number(dataset.ValidationTokens), Number(dataset.Duplicates),
                dataset.Malformed > 0 ? $"[yellow]{Number(dataset.Malformed)}[/]" : "0");
        }

        return table;
    }

    /// <summary>The first malformed records, so a user can fix the file.</summary>
    public static void WriteMalformed(IAnsiConsole console, DatasetInfo dataset)
    {
        foreach (var record in dataset.MalformedExamples)
        {
            console.MarkupLine("[yellow]line {0}:[/] {1}", record.Line, Markup.Escape(record.Reason));
        }
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
