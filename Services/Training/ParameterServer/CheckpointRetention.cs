using System.Globalization;
using System.Text.RegularExpressions;
using MsSwift.Modeling.Checkpoints;

namespace MsSwift.Training.ParameterServer;

/// <summary>
/// Keeps a job's newest checkpoints and deletes the rest, once a newer one is committed
/// (<c>Training:KeepCheckpoints</c>). A job's checkpoints are the folders
/// <c>jobs/{jobId}/step-{version:D8}-fence-{token}/</c>; anything else under the job is left alone.
/// </summary>
/// <remarks>
/// Another parameter server may be writing the same job at the same time (a successor after a
/// takeover, or a stale leader that has not noticed yet). So a checkpoint newer than the one just
/// committed is never deleted, whoever wrote it, and the committed one never is either, whatever
/// K says: it is what a takeover resumes from. Pruning only works from a fresh listing, so a
/// delete that failed is simply retried by the next commit's pruning.
/// </remarks>
public static partial class CheckpointRetention
{
    /// <summary>
    /// Deletes every checkpoint of <paramref name="jobId"/> but the newest <paramref name="keep"/>
    /// (by step, then fencing token), never <paramref name="committedPrefix"/> nor one newer than it;
    /// <paramref name="keep"/> 0 keeps all. Returns the checkpoint prefixes it deleted, oldest first.
    /// Throws what the store throws: run it off the step path and log a failure, do not fail the job.
    /// </summary>
    public static async Task<IReadOnlyList<string>> PruneAsync(
        ICheckpointStore store, string jobId, string committedPrefix, int keep, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        var committed = Parse(jobId, committedPrefix)
            ?? throw new ArgumentException($"'{committedPrefix}' is not a checkpoint of job '{jobId}' (jobs/{jobId}/step-N-fence-T)", nameof(committedPrefix));
        if (keep == 0)
        {
            return [];
        }

        var files = await store.ListAsync($"{JobFolder(jobId)}/", cancellationToken);
        var checkpoints = files
            .Select(file => (File: file, Checkpoint: Parse(jobId, PrefixOf(file))))
            .Where(entry => entry.Checkpoint is not null)
            .GroupBy(entry => entry.Checkpoint!.Value)
            .OrderByDescending(group => group.Key.Step).ThenByDescending(group => group.Key.Fence)
            .ToList();
        var obsolete = checkpoints
            .Skip(keep)
            .Where(group => group.Key.IsOlderThan(committed))
            .Reverse()
            .ToList();
        foreach (var checkpoint in obsolete)
        {
            foreach (var (file, _) in checkpoint)
            {
                await store.DeleteAsync(file, cancellationToken);
            }
        }

        return obsolete.Select(group => group.Key.Prefix).ToList();
    }

    private static string JobFolder(string jobId) => $"jobs/{jobId}";

    private static string PrefixOf(string file) => file[..Math.Max(0, file.LastIndexOf('/'))];

    private static CheckpointId? Parse(string jobId, string prefix)
    {
        var folder = JobFolder(jobId) + "/";
        if (!prefix.StartsWith(folder, StringComparison.Ordinal) || StepFolder().Match(prefix[folder.Length..]) is not { Success: true } match)
        {
            return null;
        }

        return new CheckpointId(
            long.Parse(match.Groups["step"].Value, CultureInfo.InvariantCulture),
            long.Parse(match.Groups["fence"].Value, CultureInfo.InvariantCulture),
            prefix);
    }

    // D8 is a minimum width: steps past 99,999,999 have more digits, so order by value, not by name.
    [GeneratedRegex(@"^step-(?<step>[0-9]{1,18})-fence-(?<fence>[0-9]{1,18})$", RegexOptions.CultureInvariant)]
    private static partial Regex StepFolder();

    /// <summary>Newer means a later step; at the same step, a later leader's (higher fencing token).</summary>
    private readonly record struct CheckpointId(long Step, long Fence, string Prefix)
    {
        public bool IsOlderThan(CheckpointId other) => (Step, Fence).CompareTo((other.Step, other.Fence)) < 0;
    }
}
