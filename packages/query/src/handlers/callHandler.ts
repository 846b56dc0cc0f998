import { messageOf, queryErrorValue } from '../errorValue';
import type { CallNode } from '../nodes';
import type { HandlerContext } from './context';

/**
 * Runs a `call` node: the published function with the resolved arguments (awaited when it
 * returns a promise). A throw becomes an error value naming the node and the function.
 */
export async function handleCall(node: CallNode, ctx: HandlerContext): Promise<unknown> {
  try {
    return await ctx.fn(node.function)(...node.args);
  } catch (err) {
    return queryErrorValue(ctx.name, 'call', `Function ${JSON.stringify(node.function)} threw: ${messageOf(err)}`, {
      function: node.function,
    });
  }
}
