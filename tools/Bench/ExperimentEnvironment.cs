namespace MsSwift.Bench;

/// <summary>
/// Extra environment for a benchmarked process, from a variable of the form <c>K=V;K=V</c>
/// (<c>BENCH_GATEWAY_ENV</c>, <c>BENCH_TRAINING_ENV</c>): for trying a runtime setting on the real
/// processes without changing the product, e.g. <c>DOTNET_gcServer=0</c>.
/// </summary>
internal static class ExperimentEnvironment
{
    public static Dictionary<string, string?> From(string variable) =>
        (Environment.GetEnvironmentVariable(variable) ?? "")
            .Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair.Length == 2 ? pair[1] : (string?)"");
}
