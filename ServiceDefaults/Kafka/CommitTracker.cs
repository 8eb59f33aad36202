using Confluent.Kafka;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// Requests of one partition finish out of order (batching), but an offset may only be committed
/// once every earlier message of its partition is done: this tracks what is safe to commit.
/// </summary>
internal sealed class CommitTracker
{
    private readonly Dictionary<TopicPartition, SortedDictionary<long, bool>> _pending = [];

    public int InFlight { get; private set; }

    public void Started(TopicPartitionOffset position)
    {
        if (!_pending.TryGetValue(position.TopicPartition, out var offsets))
        {
            _pending[position.TopicPartition] = offsets = [];
        }

        offsets[position.Offset.Value] = false;
        InFlight++;
    }

    /// <summary>Marks a message done; returns the offset to commit for its partition, if it advanced.</summary>
    public TopicPartitionOffset? Finished(TopicPartitionOffset position)
    {
        if (!_pending.TryGetValue(position.TopicPartition, out var offsets) || !offsets.ContainsKey(position.Offset.Value))
        {
            return null; // the partition was revoked meanwhile
        }

        offsets[position.Offset.Value] = true;
        InFlight--;
        long? next = null;
        while (offsets.Count > 0 && offsets.First() is { Value: true } first)
        {
            offsets.Remove(first.Key);
            next = first.Key + 1;
        }

        return next is { } offset ? new TopicPartitionOffset(position.TopicPartition, offset) : null;
    }

    /// <summary>Forgets revoked partitions: their unfinished messages will be redelivered to the new owner.</summary>
    public void Revoked(IEnumerable<TopicPartition> partitions)
    {
        foreach (var partition in partitions)
        {
            if (_pending.Remove(partition, out var offsets))
            {
                InFlight -= offsets.Count(entry => !entry.Value);
            }
        }
    }
}
