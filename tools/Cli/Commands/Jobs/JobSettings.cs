using System.ComponentModel;
using MsSwift.Cli.Infrastructure;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands.Jobs;

/// <summary>A command about one job.</summary>
internal class JobSettings : GatewaySettings
{
    [CommandArgument(0, "<JOB>")]
    [Description("The job's id (see msswift jobs list)")]
    public string JobId { get; set; } = "";

    public override Spectre.Console.ValidationResult Validate() => NameRules.Check((JobId, "the job id"));
}
