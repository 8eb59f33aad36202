using System.Text.RegularExpressions;

namespace MsSwift.Training.Jobs;

/// <summary>
/// The one shape of a job id: <c>job-</c> and 12 lowercase hex digits of a random GUID. Lookups by
/// id from outside check it first, so a malformed id is refused as such and never becomes a key.
/// </summary>
public static partial class JobIds
{
    public const string Rule = "'job-' followed by 12 lowercase hex digits";

    public static string New() => $"job-{Guid.NewGuid():N}"[..16];

    public static bool IsWellFormed(string jobId) => Pattern().IsMatch(jobId);

    // \A and \z, not ^ and $: $ also matches before a final '\n'.
    [GeneratedRegex(@"\Ajob-[0-9a-f]{12}\z")]
    private static partial Regex Pattern();
}
