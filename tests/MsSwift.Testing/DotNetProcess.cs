namespace MsSwift.Testing;

/// <summary>Runs <c>dotnet</c> to completion and returns its exit code and everything it printed.</summary>
public static class DotNetProcess
{
    /// <summary>The configuration this test assembly was built in; sibling projects were built the same way.</summary>
#if DEBUG
    public const string BuildConfiguration = "Debug";
#else
    public const string BuildConfiguration = "Release";
#endif

    /// <summary>Runs <c>dotnet arguments</c>; <paramref name="environment"/> entries with a null value are removed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string workingDirectory, IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var result = await ProcessRunner.RunAsync("dotnet", workingDirectory, arguments, timeout, environment);
        return (result.ExitCode, result.Output);
    }
}
