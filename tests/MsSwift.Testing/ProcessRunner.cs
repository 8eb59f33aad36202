using System.Diagnostics;

namespace MsSwift.Testing;

/// <summary>Runs a program to completion and returns its exit code and everything it printed.</summary>
public static class ProcessRunner
{
    /// <summary>The repository this test assembly was built from.</summary>
    public static string RepositoryRoot { get; } = BuildMetadata.Get(typeof(ProcessRunner).Assembly, "RepositoryRoot");

    /// <summary>Runs <paramref name="program"/>; <paramref name="environment"/> entries with a null value are removed.</summary>
    public static async Task<ProcessResult> RunAsync(
        string program, string workingDirectory, IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var startInfo = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        using var process = Process.Start(startInfo)!;
        using var cancellation = new CancellationTokenSource(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellation.Token);
        var stderr = process.StandardError.ReadToEndAsync(cancellation.Token);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }
}

public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Everything it printed: standard output, then standard error.</summary>
    public string Output => StandardOutput + StandardError;
}
