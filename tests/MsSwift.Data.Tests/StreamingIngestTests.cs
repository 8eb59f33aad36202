using System.Security.Cryptography;
using System.Text;
using MsSwift.Data.Datasets;

namespace MsSwift.Data.Tests;

// Ingest streams tokens out a chunk at a time; what it writes must be exactly what building the
// whole dataset in memory gave (the reference below is that algorithm, written out plainly).
public sealed class StreamingIngestTests
{
    private static readonly List<string> Documents = Enumerable.Range(0, 400)
        .Select(i => $"document {i}: {new string((char)('a' + i % 26), i % 37)} and some words {i * i}")
        .Concat(Enumerable.Range(0, 40).Select(i => $"document {i * 3}: {new string((char)('a' + i * 3 % 26), i * 3 % 37)} and some words {i * 3 * i * 3}"))
        .ToList();

    [Theory]
    [InlineData(1, 20)]
    [InlineData(7, 20)]
    [InlineData(4099, 20)]
    [InlineData(1 << 20, 20)]
    [InlineData(7, 0)]
    [InlineData(7, 50)]
    public async Task Chunked_ingest_writes_exactly_what_the_in_memory_build_did(int chunkTokens, int validationPercent)
    {
        var reference = Reference(Documents, validationPercent);

        var built = await InMemoryIngest.BuildAsync(new StringReader(string.Join("\n\n", Documents)), new IngestOptions(RecordFormat.Text, "byte", validationPercent), chunkTokens);

        Assert.Equal(reference.Train, built.TrainTokens);
        Assert.Equal(reference.Validation, built.ValidationTokens);
        Assert.Equal(reference.Version, built.Info.Version);
        Assert.Equal(400, built.Info.Documents);
        Assert.Equal(40, built.Info.Duplicates);
        Assert.Equal(reference.Train.Length, built.Info.TrainTokens);
        Assert.Equal(reference.Validation.Length, built.Info.ValidationTokens);
        if (validationPercent == 0)
        {
            Assert.Empty(built.ValidationTokens);
        }
    }

    [Fact]
    public async Task Gpt2_tokens_do_not_depend_on_the_chunk_size()
    {
        var options = new IngestOptions(RecordFormat.Text, "gpt2", 20);
        var whole = await InMemoryIngest.BuildAsync(new StringReader(string.Join("\n\n", Documents)), options);

        var chunked = await InMemoryIngest.BuildAsync(new StringReader(string.Join("\n\n", Documents)), options, chunkTokens: 5);

        Assert.Equal(whole.TrainTokens, chunked.TrainTokens);
        Assert.Equal(whole.ValidationTokens, chunked.ValidationTokens);
        Assert.Equal(whole.Info.Version, chunked.Info.Version);
    }

    [Fact]
    public async Task Tokens_leave_for_storage_in_chunks_while_the_input_is_still_being_read()
    {
        const int chunkTokens = 256;
        var input = new CountingReader(Enumerable.Range(0, 20_000).Select(i => $"line {i} of a long corpus that never fits one chunk"));
        var train = new ObservedStream(input);

        await DatasetBuilder.BuildAsync("d", input, new IngestOptions(RecordFormat.Text, "byte", 0), train, Stream.Null, chunkTokens, CancellationToken.None);

        // Held in memory, nothing could be written before the last line was read.
        Assert.InRange(train.LinesReadAtFirstWrite, 1, 100);
        Assert.Equal(chunkTokens * sizeof(int), train.LargestWrite);
        Assert.Equal(20_000, input.LinesRead);
    }

    private static (int[] Train, int[] Validation, string Version) Reference(IEnumerable<string> documents, int validationPercent)
    {
        var seen = new HashSet<string>();
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var document in documents)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(document)));
            if (!seen.Add(hash))
            {
                continue;
            }

            var target = Convert.ToInt32(hash[..4], 16) % 100 < validationPercent ? validation : train;
            target.AddRange(Encoding.UTF8.GetBytes(document + "\n\n").Select(value => (int)value));
        }

        var version = SHA256.HashData(Encoding.UTF8.GetBytes($"byte|{validationPercent}|" + string.Concat(seen.Order(StringComparer.Ordinal))));
        return ([.. train], [.. validation], Convert.ToHexStringLower(version)[..16]);
    }

    /// <summary>Paragraphs of one line each, produced as they are read (at most one per read), counting lines read.</summary>
    private sealed class CountingReader(IEnumerable<string> lines) : TextReader
    {
        private readonly IEnumerator<string> _lines = lines.GetEnumerator();
        private string _pending = "";

        public int LinesRead { get; private set; }

        public override int Read(Span<char> buffer)
        {
            if (_pending.Length == 0)
            {
                if (!_lines.MoveNext())
                {
                    return 0;
                }

                LinesRead++;
                _pending = _lines.Current + "\n\n";
            }

            var count = Math.Min(buffer.Length, _pending.Length);
            _pending.AsSpan(0, count).CopyTo(buffer);
            _pending = _pending[count..];
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<char> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _lines.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Discards what is written, noting the largest write and how far the input was when the first came.</summary>
    private sealed class ObservedStream(CountingReader input) : Stream
    {
        public int LinesReadAtFirstWrite { get; private set; }

        public int LargestWrite { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Observe(count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Observe(buffer.Length);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private void Observe(int bytes)
        {
            if (LinesReadAtFirstWrite == 0)
            {
                LinesReadAtFirstWrite = input.LinesRead;
            }

            LargestWrite = Math.Max(LargestWrite, bytes);
        }
    }
}
