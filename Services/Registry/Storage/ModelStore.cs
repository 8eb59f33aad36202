using Google.Protobuf;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using StackExchange.Redis;

namespace MsSwift.Registry.Storage;

/// <summary>
/// Registry state in Redis: one hash per model holding the whole record and its revision.
/// A change commits only if the revision is still the one it read (optimistic concurrency in a
/// Redis transaction), and the change's event is queued in the outbox in the same transaction,
/// so a committed change is never left unannounced.
/// </summary>
public sealed class ModelStore(IConnectionMultiplexer redis)
{
    public const string KeyPrefix = "msswift:registry:";
    private const string ModelsKey = KeyPrefix + "models";
    private const string RecordField = "record";
    private const string RevisionField = "revision";

    public static RedisKey OutboxKey { get; } = KeyPrefix + "outbox";

    /// <summary>The model's record; an unknown model reads as an empty record at revision 0.</summary>
    public async Task<RegisteredModel> ReadAsync(string name)
    {
        var record = await redis.GetDatabase().HashGetAsync(ModelKey(name), RecordField);
        return record.IsNull ? new RegisteredModel { Name = name } : RegisteredModel.Parser.ParseFrom((byte[])record!);
    }

    public async Task<IReadOnlyList<RegisteredModel>> ListAsync()
    {
        var database = redis.GetDatabase();
        var names = (await database.SetMembersAsync(ModelsKey)).Select(name => (string)name!).Order(StringComparer.Ordinal).ToList();
        var records = await Task.WhenAll(names.Select(name => database.HashGetAsync(ModelKey(name), RecordField)));
        return records.Where(record => !record.IsNull).Select(record => RegisteredModel.Parser.ParseFrom((byte[])record!)).ToList();
    }

    /// <summary>
    /// Writes <paramref name="next"/> (whose revision is one past <paramref name="readRevision"/>)
    /// and queues <paramref name="modelEvent"/>; false when another change committed first.
    /// </summary>
    public async Task<bool> CommitAsync(RegisteredModel next, long readRevision, ModelEvent modelEvent)
    {
        var key = ModelKey(next.Name);
        modelEvent.Revision = next.Revision;
        var transaction = redis.GetDatabase().CreateTransaction();
        transaction.AddCondition(readRevision == 0
            ? Condition.HashNotExists(key, RevisionField)
            : Condition.HashEqual(key, RevisionField, readRevision));
        _ = transaction.HashSetAsync(key, [new(RecordField, next.ToByteArray()), new(RevisionField, next.Revision)]);
        _ = transaction.SetAddAsync(ModelsKey, next.Name);
        _ = transaction.ListRightPushAsync(OutboxKey, modelEvent.ToByteArray());
        return await transaction.ExecuteAsync();
    }

    private static RedisKey ModelKey(string name) => $"{KeyPrefix}model:{name}";
}
