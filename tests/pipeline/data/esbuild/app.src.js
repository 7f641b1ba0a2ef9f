import { greet } from "./greet.js";
import { shout } from "./shout.js";

const message = greet("world");
export function main(target) {
  const loud = shout(message);
  console.log(loud, target);
  return loud.length;
}
