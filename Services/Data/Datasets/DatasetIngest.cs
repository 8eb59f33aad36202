using Microsoft.Extensions.Options;
using MsSwift.Contracts.Data.V1;

namespace MsSwift.Data.Datasets;

/// <summary>
/// One ingest from start to storage: the builder streams each split's tokens into a staging file
/// under <see cref="DataOptions.CacheDirectory"/> (the version, which names the stored files, is
/// known only once the input is read), then the store copies them in. Memory stays at a chunk
/// per split whatever the dataset's size; the staging files are deleted either way.
/// </summary>
public sealed class DatasetIngest(DatasetStore store, IOptions<DataOptions> options)
{
    /// <summary>The report; the version is stored only when it has documents.</summary>
    public async Task<DatasetInfo> IngestAsync(string name, TextReader input, IngestOptions ingest, CancellationToken cancellationToken)
    {
        var staging = Directory.CreateDirectory(Path.Combine(options.Value.CacheRoot, "staging", Guid.NewGuid().ToString("N"))).FullName;
        try
        {
            var trainFile = Path.Combine(staging, "train.tokens");
            var validationFile = Path.Combine(staging, "validation.tokens");
            DatasetInfo info;
            await using (var train = Create(trainFile))
            await using (var validation = Create(validationFile))
            {
                info = await DatasetBuilder.BuildAsync(name, input, ingest, train, validation, options.Value.IngestChunkTokens, cancellationToken);
            }

            if (info.Documents > 0)
            {
                await store.SaveAsync(info, trainFile, validationFile, cancellationToken);
            }

            return info;
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private static FileStream Create(string path) =>
        new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
}
