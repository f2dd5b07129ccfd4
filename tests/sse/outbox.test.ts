import { describe, expect, it } from 'vitest'
import { webSink } from '../../src/sse/event-stream.js'
import { Heartbeats } from '../../src/sse/heartbeats.js'
import { Outbox, type OutboxEnd } from '../../src/sse/outbox.js'

function outboxOver() {
  const { sink, body } = webSink()
  const outcomes: OutboxEnd[] = []
  let ended = false
  const outbox = new Outbox({
    sink,
    end: () => {
      ended = true
      sink.end()
    },
    maxEvents: 100,
    maxBytes: 1 << 20,
    heartbeats: new Heartbeats(60_000),
  })
  void outbox.ended.then((outcome) => outcomes.push(outcome))
  return { outbox, sink, reader: body.getReader(), outcomes, isEnded: () => ended }
}

describe('Outbox.end(grace)', () => {
  it('ends cleanly once the client has taken every frame', async () => {
    const { outbox, reader, outcomes, isEnded } = outboxOver()
    outbox.push(Buffer.from('data: 1\n\n'))
    const ending = outbox.end(1000)
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: 1\n\n')
    // A reader asking for more is what tells the sink its bytes were taken (like a socket's 'drain').
    const next = reader.read()
    await ending
    expect((await next).done).toBe(true)
    expect(await outbox.ended).toBe('ended')
    expect(outcomes).toEqual(['ended'])
    expect(isEnded()).toBe(true)
  })

  it('counts bytes the sink holds but the client has not taken: past the grace, it cuts, never claims a flush', async () => {
    const { outbox, sink, outcomes, isEnded } = outboxOver()
    // Written to the sink at once, and never read: the sink stays blocked.
    outbox.push(Buffer.from('data: 1\n\n'))
    await outbox.end(100)
    expect(await outbox.ended).toBe('aborted')
    expect(outcomes).toEqual(['aborted'])
    expect(isEnded()).toBe(false)
    expect(sink.destroyed).toBe(true)
  })
})
