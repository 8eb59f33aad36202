using Spectre.Console.Cli;

namespace MsSwift.Cli.Infrastructure;

/// <summary>
/// A command that talks to the gateway: resolves the connection, runs, and turns any failure
/// into one line on standard error (and <c>{"error": ...}</c> on standard output with --json) with
/// the exit code of its kind.
/// </summary>
internal abstract class GatewayCommand<TSettings>(CliEnvironment environment) : AsyncCommand<TSettings>
    where TSettings : GatewaySettings
{
    protected CliEnvironment Environment { get; } = environment;

    /// <summary>What the command does, for its error line: "promote demo v2".</summary>
    protected abstract string Describe(TSettings settings);

    protected abstract Task<int> RunAsync(GatewayClient gateway, TSettings settings, CancellationToken cancellationToken);

    public sealed override async Task<int> ExecuteAsync(CommandContext context, TSettings settings, CancellationToken cancellationToken)
    {
        GatewayConnection? connection = null;
        try
        {
            connection = GatewayConnection.Resolve(settings, Environment);
            using var gateway = new GatewayClient(connection);
            return await RunAsync(gateway, settings, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Environment.Error.WriteLine($"msswift: {Describe(settings)} interrupted");
            return ExitCodes.Interrupted;
        }
        catch (Exception error) when (error is CliException || connection is not null)
        {
            var failure = Failures.Describe(Describe(settings), error, connection!);
            Environment.Error.WriteLine($"msswift: {failure.Message}");
            if (settings.Json)
            {
                Environment.WriteRawLine(CliJson.Error(failure));
            }

            return failure.ExitCode;
        }
    }
}
