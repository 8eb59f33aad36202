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

    /// <summary>The id, or a refusal (InvalidArgument on <c>job_id</c>) that does not echo a malformed one.</summary>
    public static string Require(string jobId) => IsWellFormed(jobId)
        ? jobId
        : throw new MsSwift.ServiceDefaults.Errors.ServiceException(MsSwift.ServiceDefaults.Errors.ServiceError.InvalidArgument,
            $"job_id must be {Rule} (got {jobId.Length} characters)", [new("job_id", $"a job id is {Rule}")]);

    // \A and \z, not ^ and $: $ also matches before a final '\n'.
    [GeneratedRegex(@"\Ajob-[0-9a-f]{12}\z")]
    private static partial Regex Pattern();
}
