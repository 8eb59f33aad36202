namespace MsSwift.Cli.Infrastructure;

/// <summary>A failure the CLI reports as one line (what failed and what to do) with <see cref="ExitCode"/>.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.Failed) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
